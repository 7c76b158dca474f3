// Client of the Oversight HTTP API (JSON under /api/v1).
//
// Every function returns the decoded response body or throws ApiError, whose
// message is the server's error message when it sent one.

const BASE = '/api/v1';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

function queryString(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params ?? {})) {
    if (value !== undefined && value !== null && value !== '') {
      search.set(name, String(value));
    }
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

// Sends a request; `body` is sent as JSON, or as is when it is FormData.
async function request(method, path, params, body) {
  let response;
  // The server rejects a state-changing request without X-Requested-With,
  // which a cross-site form cannot send.
  const headers = { Accept: 'application/json', 'X-Requested-With': 'oversight-dashboard' };
  let payload;
  if (body instanceof FormData) {
    payload = body;
  } else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  try {
    response = await fetch(`${BASE}${path}${queryString(params)}`, {
      method,
      headers,
      body: payload,
    });
  } catch (error) {
    throw new ApiError(0, 'network', `${method} ${path} failed: ${error.message}`);
  }
  const text = await response.text();
  let decoded = null;
  if (text) {
    try {
      decoded = JSON.parse(text);
    } catch {
      throw new ApiError(response.status, 'invalid_response', `${method} ${path} returned status ${response.status} without JSON`);
    }
  }
  if (!response.ok) {
    const error = decoded?.error;
    throw new ApiError(
      response.status,
      error?.code ?? 'http',
      error?.message ?? `${method} ${path} returned status ${response.status}`,
    );
  }
  return decoded;
}

const segment = encodeURIComponent;

export const api = {
  health: () => request('GET', '/health'),
  summary: (area) => request('GET', '/summary', { area }),
  areas: (parent) => request('GET', '/areas', { parent }),
  area: (code) => request('GET', `/areas/${segment(code)}`),
  points: ({ area, limit, cursor }) => request('GET', '/points', { area, limit, cursor }),
  point: (mn) => request('GET', `/points/${segment(mn)}`),
  readings: (mn, { factor, kind, from, to, order, limit, cursor }) =>
    request('GET', `/points/${segment(mn)}/readings`, { factor, kind, from, to, order, limit, cursor }),
  alerts: ({ status, area, mn, from, to, limit, cursor }) =>
    request('GET', '/alerts', { status, area, mn, from, to, limit, cursor }),
  quarantine: () => request('GET', '/quarantine'),
  quarantinedUploads: (mn, limit) => request('GET', `/quarantine/${segment(mn)}`, { limit }),
  releaseQuarantine: (mn) => request('POST', `/quarantine/${segment(mn)}/release`),
  discardQuarantine: (mn) => request('DELETE', `/quarantine/${segment(mn)}`),
  tasks: ({ department, assignee, state, overdue, limit, cursor }) =>
    request('GET', '/tasks', { department, assignee, state, overdue, limit, cursor }),
  task: (id) => request('GET', `/tasks/${segment(id)}`),
  taskAction: (id, action, body) => request('POST', `/tasks/${segment(id)}/actions/${segment(action)}`, null, body),
  uploadEvidence: (id, actor, file) => {
    const form = new FormData();
    form.append('actor', JSON.stringify(actor));
    form.append('file', file, file.name);
    return request('POST', `/tasks/${segment(id)}/evidence`, null, form);
  },
  evidenceUrl: (id, sha256) => `${BASE}/tasks/${segment(id)}/evidence/${segment(sha256)}`,
  taskExportUrl: (format, { department, state, overdue }) =>
    `${BASE}/tasks/export.${format}${queryString({ department, state, overdue })}`,
};

// Fetches pages until there are no more or `maxItems` items were read.
// Returns the items and whether the result stopped short of the last page.
export async function fetchAll(fetchPage, maxItems) {
  const items = [];
  let cursor = null;
  do {
    const page = await fetchPage(cursor);
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < maxItems);
  return { items: items.slice(0, maxItems), truncated: Boolean(cursor) || items.length > maxItems };
}
