/**
 * @module mcp/dispatch
 * What the relay does with each message a client sends on a session: `initialize` is answered
 * from the child's cached InitializeResult with the version negotiated for that session; `ping`
 * locally; requests are forwarded to the person's child with rewritten ids; answers to
 * server→client requests go back to the child that asked. Routing rules: docs/relay.md.
 */
import type { Person } from './person.js';
import { RPC, isRequest, isResponse, negotiateVersion, rpcError, type RpcMessage } from './protocol.js';
import type { Session } from './session.js';
import { PACKAGE } from '../version.js';

/** Handles one client→server message of `session`, which belongs to `person`. */
export function dispatch(person: Person, session: Session, msg: RpcMessage): void {
  session.lastActivity = person.lastActivity = Date.now();
  if (isResponse(msg)) {
    const out = session.outgoing.get(msg.id as string);
    if (!out) return;
    session.outgoing.delete(msg.id as string);
    return out.link.answer(out.childId, msg);
  }
  if (isRequest(msg)) {
    if (msg.method === 'initialize') return void initialize(person, session, msg);
    if (msg.method === 'ping') return session.deliver({ jsonrpc: '2.0', id: msg.id!, result: {} }, msg.id!);
    return void forward(person, session, msg);
  }
  notify(person, session, msg);
}

async function initialize(person: Person, session: Session, msg: RpcMessage): Promise<void> {
  const params = msg.params ?? {};
  const version = negotiateVersion(params.protocolVersion);
  session.protocolVersion = version;
  if (session.reattaching) {
    return session.deliver({ jsonrpc: '2.0', id: msg.id!, result: { protocolVersion: version, capabilities: {}, serverInfo: { name: 'fjmcp-broker', version: PACKAGE.version } } });
  }
  session.capabilities = (params.capabilities as Record<string, unknown>) ?? {};
  session.clientInfo = params.clientInfo;
  try {
    const link = await person.child();
    session.deliver({ jsonrpc: '2.0', id: msg.id!, result: { ...link.initResult, protocolVersion: version } }, msg.id!);
  } catch (err) {
    session.deliver(rpcError(msg.id, RPC.SERVER_UNAVAILABLE, (err as Error).message), msg.id!);
  }
}

async function forward(person: Person, session: Session, msg: RpcMessage): Promise<void> {
  const method = msg.method!;
  const uri = msg.params?.uri as string | undefined;
  if (method === 'resources/unsubscribe' && uri) {
    session.subscriptions.delete(uri);
    // Another session of this person still wants updates: the child must stay subscribed.
    for (const s of person.sessions) {
      if (s !== session && s.subscriptions.has(uri)) return session.deliver({ jsonrpc: '2.0', id: msg.id!, result: {} }, msg.id!);
    }
  }
  let link;
  try {
    link = person.link && person.link.proc.alive ? person.link : await person.child();
  } catch (err) {
    return session.deliver(rpcError(msg.id, RPC.SERVER_UNAVAILABLE, (err as Error).message), msg.id!);
  }
  if (session.closed) return;
  if (method === 'resources/subscribe' && uri) session.subscriptions.add(uri);
  if (method === 'logging/setLevel') person.logLevel = msg.params?.level as string;
  link.forward(session, msg);
}

function notify(person: Person, session: Session, msg: RpcMessage): void {
  if (msg.method === 'notifications/initialized') return; // the broker did the child's handshake itself
  if (msg.method === 'notifications/cancelled') {
    const entry = session.inflight.get(msg.params?.requestId as string);
    if (entry) entry.link.cancel(session, msg.params ?? {});
    return;
  }
  const link = person.link;
  if (link && link.proc.alive) link.proc.send(msg);
}
