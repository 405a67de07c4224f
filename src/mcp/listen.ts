/**
 * @module mcp/listen
 * One `subscriptions/listen` stream (2026-07-28): the long-lived SSE answer that carries the
 * change notifications the client opted in to, each tagged with the subscription id (the listen
 * request's id). It is a downstream of the person's child like a session's GET stream; the person
 * ref-counts `resources/subscribe` at the child across sessions and listen streams.
 * @see MCP 2026-07-28 basic/patterns/subscriptions; schema SubscriptionFilter,
 *      SubscriptionsAcknowledgedNotification, SubscriptionsListenResult
 */
import { SUBSCRIPTION_ID_META_KEY } from '@modelcontextprotocol/server';
import type { Downstream } from './child-link.js';
import type { Id, RpcMessage } from './protocol.js';
import { SseWriter } from './sse-writer.js';

export interface SubscriptionFilter {
  toolsListChanged?: boolean;
  promptsListChanged?: boolean;
  resourcesListChanged?: boolean;
  resourceSubscriptions?: string[];
}

export interface ListenHooks {
  opened(): void;
  /** The stream ended (client gone or {@link Listen.end}). */
  closed(listen: Listen): void;
}

let seq = 0;

export class Listen implements Downstream {
  readonly id = `listen-${++seq}`;
  readonly capabilities: Record<string, unknown> = {};
  readonly subscriptions: ReadonlySet<string>;
  readonly filter: SubscriptionFilter;
  readonly #sse: SseWriter;

  constructor(readonly requestId: Id, filter: unknown, signal: AbortSignal, hooks: ListenHooks) {
    const f = (filter ?? {}) as Record<string, unknown>;
    this.filter = {
      ...(f.toolsListChanged === true ? { toolsListChanged: true } : {}),
      ...(f.promptsListChanged === true ? { promptsListChanged: true } : {}),
      ...(f.resourcesListChanged === true ? { resourcesListChanged: true } : {}),
      ...(Array.isArray(f.resourceSubscriptions) ? { resourceSubscriptions: f.resourceSubscriptions.filter((u): u is string => typeof u === 'string') } : {}),
    };
    this.subscriptions = new Set(this.filter.resourceSubscriptions ?? []);
    this.#sse = new SseWriter(signal, { opened: hooks.opened, closed: () => hooks.closed(this) });
    this.#sse.send({ jsonrpc: '2.0', method: 'notifications/subscriptions/acknowledged', params: { notifications: this.filter, _meta: { [SUBSCRIPTION_ID_META_KEY]: requestId } } });
  }

  get response(): Response {
    return this.#sse.response;
  }

  /** Passes what the filter asked for; drops everything else (logs, unrelated notifications). */
  deliver(msg: RpcMessage): void {
    const f = this.filter;
    switch (msg.method) {
      case 'notifications/tools/list_changed':
        if (!f.toolsListChanged) return;
        break;
      case 'notifications/prompts/list_changed':
        if (!f.promptsListChanged) return;
        break;
      case 'notifications/resources/list_changed':
        if (!f.resourcesListChanged) return;
        break;
      case 'notifications/resources/updated':
        if (!this.subscriptions.has(msg.params?.uri as string)) return;
        break;
      default:
        return;
    }
    this.#sse.send({ ...msg, params: { ...msg.params, _meta: { ...msg.params?._meta, [SUBSCRIPTION_ID_META_KEY]: this.requestId } } });
  }

  /** Ends the subscription gracefully (broker shutdown): the empty SubscriptionsListenResult. */
  end(): void {
    this.#sse.end({ jsonrpc: '2.0', id: this.requestId, result: { resultType: 'complete', _meta: { [SUBSCRIPTION_ID_META_KEY]: this.requestId } } });
  }
}
