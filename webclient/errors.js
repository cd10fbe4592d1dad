// errors.js — every error code the server (or the connection) can produce, in words for people.

const MESSAGES = {
  bad_request: 'The server could not accept that request',
  unauthorized: 'You are not signed in, or your name or password is wrong',
  forbidden: 'You are not allowed to do that',
  not_found: 'That no longer exists',
  conflict: 'That already exists or has already been done',
  rate_limited: 'Too many attempts — please wait a moment and try again',
  too_large: 'That is too large to send',
  unavailable: 'The server is temporarily unavailable — please try again shortly',
  room_full: 'That room is full',
  internal: 'Something went wrong on the server',
  timeout: 'The server did not answer in time — please try again',
  disconnected: 'The connection was lost before the server answered',
  offline: 'You are offline — reconnecting…',
  suspended: 'This account is suspended. Please contact an administrator of this Staffroom',
};

// Field names as people know them (bad_request names the offending field).
const FIELDS = {
  name: 'name', password: 'password', display_name: 'display name', text: 'message', q: 'search',
  subject: 'subject', phase: 'phase', description: 'description', tz: 'time zone', bio: 'bio',
  school: 'school', subjects: 'subjects', topic: 'topic', status: 'status',
};

// Human text for an error object { code, message, field } (or any thrown Error). `overrides` maps a code
// to a sentence that fits the place where it happened (e.g. conflict on sign-up: the name is taken).
export function describeError(err, overrides = {}) {
  if (!err) return '';
  const code = err.code;
  if (overrides[code]) return overrides[code];
  let text = MESSAGES[code] || (err.message ? String(err.message) : 'Something went wrong');
  if (code === 'bad_request' && err.field) text += `: check the ${FIELDS[err.field] || err.field}`;
  if (code === 'rate_limited' && Number.isFinite(err.retry_after_ms)) {
    text += ` (about ${Math.max(1, Math.ceil(err.retry_after_ms / 1000))} s)`;
  }
  // The server's own sentence adds detail (e.g. "user name taken"); show it when it says more.
  if (MESSAGES[code] && err.message && err.message !== code) text += `. ${capitalise(err.message)}`;
  if (!/[.!?…]$/.test(text)) text += '.';
  return text;
}

function capitalise(s) {
  s = String(s);
  return s.charAt(0).toUpperCase() + s.slice(1);
}

export const ERROR_CODES = Object.keys(MESSAGES);
