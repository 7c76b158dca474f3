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
  // The server rejects a state-changing request on a session without the
  // session's CSRF token, which the login set in the oversight_csrf cookie.
  const headers = { Accept: 'application/json' };
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

// Returns the latest signed checkpoint as the text of its signed note, or
// null while none is signed (404).
async function ledgerCheckpoint() {
  let response;
  try {
    response = await fetch(`${BASE}/ledger/checkpoint`, { headers: { Accept: 'text/plain' } });
  } catch (error) {
    throw new ApiError(0, 'network', `GET /ledger/checkpoint failed: ${error.message}`);
  }
  if (response.status === 404) {
    return null;
  }
  if (!response.ok) {
    throw new ApiError(response.status, 'http', `GET /ledger/checkpoint returned status ${response.status}`);
  }
  return response.text();
}

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
  alerts: ({ status, severity, rule, area, mn, from, to, limit, cursor }) =>
    request('GET', '/alerts', { status, severity, rule, area, mn, from, to, limit, cursor }),
  quarantine: ({ limit, cursor } = {}) => request('GET', '/quarantine', { limit, cursor }),
  quarantinedUploads: (mn, { limit, cursor } = {}) =>
    request('GET', `/quarantine/${segment(mn)}`, { limit, cursor }),
  releaseQuarantine: (mn) => request('POST', `/quarantine/${segment(mn)}/release`),
  discardQuarantine: (mn) => request('DELETE', `/quarantine/${segment(mn)}`),
  alert: (id) => request('GET', `/alerts/${segment(id)}`),
  acknowledgeAlert: (id, actor, reason) =>
    request('POST', `/alerts/${segment(id)}/acknowledge`, undefined, { actor, reason: reason || undefined }),
  resolveAlert: (id, actor, reason) => request('POST', `/alerts/${segment(id)}/resolve`, undefined, { actor, reason }),
  silenceAlert: (id, { endsAt, createdBy, comment }) =>
    request('POST', `/alerts/${segment(id)}/silence`, undefined, { ends_at: endsAt, created_by: createdBy, comment }),
  rules: () => request('GET', '/rules'),
  rule: (id) => request('GET', `/rules/${segment(id)}`),
  enableRule: (id, actor) => request('POST', `/rules/${segment(id)}/enable`, undefined, { actor }),
  disableRule: (id, actor) => request('POST', `/rules/${segment(id)}/disable`, undefined, { actor }),
  backtest: ({ pack, mn, from, to }) => request('POST', '/rules/backtest', undefined, { pack: pack || undefined, mn, from, to }),
  notifications: ({ status, recipient, channel, alert, limit, cursor } = {}) =>
    request('GET', '/notifications', { status, recipient, channel, alert, limit, cursor }),
  retryNotification: (id) => request('POST', `/notifications/${segment(id)}/retry`),
  inbox: ({ recipient, unread, limit, cursor } = {}) => request('GET', '/inbox', { recipient, unread, limit, cursor }),
  markInboxRead: (ids) => request('POST', '/inbox/read', undefined, { ids }),
  tasks: ({ department, assignee, state, overdue, limit, cursor }) =>
    request('GET', '/tasks', { department, assignee, state, overdue, limit, cursor }),
  task: (id) => request('GET', `/tasks/${segment(id)}`),
  taskAction: (id, action, body) => request('POST', `/tasks/${segment(id)}/actions/${segment(action)}`, null, body),
  uploadEvidence: (id, file) => {
    const form = new FormData();
    form.append('file', file, file.name);
    return request('POST', `/tasks/${segment(id)}/evidence`, null, form);
  },
  evidenceUrl: (id, sha256) => `${BASE}/tasks/${segment(id)}/evidence/${segment(sha256)}`,
  ledgerKey: () => request('GET', '/ledger/key'),
  ledgerCheckpoint,
  ledgerInclusion: (index, size) => request('GET', '/ledger/proof/inclusion', { index, size }),
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
