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

async function request(method, path, params, payload) {
  let response;
  // The server rejects a state-changing request without X-Requested-With,
  // which a cross-site form cannot send.
  const headers = { Accept: 'application/json', 'X-Requested-With': 'oversight-dashboard' };
  if (payload !== undefined) {
    headers['Content-Type'] = 'application/json';
  }
  try {
    response = await fetch(`${BASE}${path}${queryString(params)}`, {
      method,
      headers,
      body: payload === undefined ? undefined : JSON.stringify(payload),
    });
  } catch (error) {
    throw new ApiError(0, 'network', `${method} ${path} failed: ${error.message}`);
  }
  const text = await response.text();
  let body = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      throw new ApiError(response.status, 'invalid_response', `${method} ${path} returned status ${response.status} without JSON`);
    }
  }
  if (!response.ok) {
    const error = body?.error;
    throw new ApiError(
      response.status,
      error?.code ?? 'http',
      error?.message ?? `${method} ${path} returned status ${response.status}`,
    );
  }
  return body;
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
  notifications: ({ status, recipient, channel, limit, cursor }) =>
    request('GET', '/notifications', { status, recipient, channel, limit, cursor }),
  retryNotification: (id) => request('POST', `/notifications/${segment(id)}/retry`),
  inbox: ({ recipient, unread, limit, cursor }) => request('GET', '/inbox', { recipient, unread, limit, cursor }),
  markInboxRead: (recipient, ids) => request('POST', '/inbox/read', undefined, { recipient, ids }),
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
