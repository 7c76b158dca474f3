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

// Returns the value of a cookie, or null.
function cookie(name) {
  const prefix = `${name}=`;
  const found = document.cookie.split('; ').find((item) => item.startsWith(prefix));
  return found ? decodeURIComponent(found.slice(prefix.length)) : null;
}

async function request(method, path, params, body) {
  // The server rejects a state-changing request without X-Requested-With,
  // which a cross-site form cannot send, and a state-changing request on a
  // session without the session's CSRF token, which the login set in the
  // oversight_csrf cookie.
  const headers = { Accept: 'application/json', 'X-Requested-With': 'oversight-dashboard' };
  if (method !== 'GET') {
    const csrf = cookie('oversight_csrf');
    if (csrf) {
      headers['X-CSRF-Token'] = csrf;
    }
  }
  // FormData (an evidence upload) sets its own multipart Content-Type.
  const form = body instanceof FormData;
  if (body !== undefined && !form) {
    headers['Content-Type'] = 'application/json';
  }
  let response;
  try {
    response = await fetch(`${BASE}${path}${queryString(params)}`, {
      method,
      headers,
      body: body === undefined || form ? body : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiError(0, 'network', `${method} ${path} failed: ${error.message}`);
  }
  const text = await response.text();
  let reply = null;
  if (text) {
    try {
      reply = JSON.parse(text);
    } catch {
      throw new ApiError(response.status, 'invalid_response', `${method} ${path} returned status ${response.status} without JSON`);
    }
  }
  if (response.status === 401 && !path.startsWith('/auth/')) {
    // The session expired or ended: the app shows the login page.
    window.dispatchEvent(new CustomEvent('oversight:unauthorized'));
  }
  if (!response.ok) {
    const error = reply?.error;
    throw new ApiError(
      response.status,
      error?.code ?? 'http',
      error?.message ?? `${method} ${path} returned status ${response.status}`,
    );
  }
  return reply;
}

const segment = encodeURIComponent;

export const api = {
  login: (username, password, totpCode) =>
    request('POST', '/auth/login', undefined, { username, password, totp_code: totpCode || undefined }),
  logout: () => request('POST', '/auth/logout'),
  me: () => request('GET', '/auth/me'),
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
