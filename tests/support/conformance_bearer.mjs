// Preloaded (node --import) into the MCP conformance suite, which has no option to send a token: every
// request it makes to the server under test carries `Authorization: Bearer $MCP_CONFORMANCE_BEARER`.
// The suite sends through three doors, all covered here:
// - global fetch and undici's request(), which both use undici's global dispatcher;
// - node:http's request(), for the raw header checks that need exact control over the header bytes.
// Only requests to the origin in $MCP_CONFORMANCE_TARGET get the token; a header the suite set itself wins.
import { createRequire } from 'node:module';
import http from 'node:http';

const token = process.env.MCP_CONFORMANCE_BEARER;
const target = new URL(process.env.MCP_CONFORMANCE_TARGET);
const value = `Bearer ${token}`;

// undici as the suite itself resolves it (process.argv[1] is the suite's entry script).
const { Agent, setGlobalDispatcher } = createRequire(process.argv[1])('undici');

const isAuth = (name) => String(name).toLowerCase() === 'authorization';

function withAuth(headers) {
  if (headers == null) return { authorization: value };
  if (Array.isArray(headers)) {
    if (headers.length && Array.isArray(headers[0])) {
      return headers.some(([name]) => isAuth(name)) ? headers : [...headers, ['authorization', value]];
    }
    for (let i = 0; i < headers.length; i += 2) if (isAuth(headers[i])) return headers;
    return [...headers, 'authorization', value];
  }
  if (typeof headers[Symbol.iterator] === 'function') return withAuth([...headers]);
  return Object.keys(headers).some(isAuth) ? headers : { ...headers, authorization: value };
}

class BearerAgent extends Agent {
  dispatch(options, handler) {
    const origin = typeof options.origin === 'string' ? options.origin : options.origin?.origin;
    if (origin && new URL(origin).origin === target.origin) {
      options = { ...options, headers: withAuth(options.headers) };
    }
    return super.dispatch(options, handler);
  }
}
setGlobalDispatcher(new BearerAgent());

const request = http.request;
http.request = function (options, ...rest) {
  if (options && typeof options === 'object' && !(options instanceof URL)) {
    const host = options.hostname ?? options.host;
    if (host === target.hostname && String(options.port) === target.port) {
      options = { ...options, headers: withAuth(options.headers) };
    }
  }
  return request.call(this, options, ...rest);
};
