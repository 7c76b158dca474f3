// Helpers for showing HJ 212 packets.

// Masks the HJ 212 access password (PW) in a raw packet, because the page
// is shown on screens that people other than the device owner can see. The
// API already masks it; this keeps the page safe against an older server.
export function maskPassword(raw) {
  return raw.replace(/(^|[;,&])PW=[^;,&]*/g, '$1PW=******');
}
