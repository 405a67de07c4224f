/**
 * @module test/relay/sdk-clients
 * The v1 (`@modelcontextprotocol/sdk`) and v2 (`@modelcontextprotocol/client`) SDK clients behind
 * one small interface, so each behaviour is asserted with both real clients.
 */
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as TransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateMessageRequestSchema, ElicitRequestSchema, LoggingMessageNotificationSchema, ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client';

export type SdkLine = 'v1' | 'v2';

export interface TestClient {
  line: SdkLine;
  sessionId(): string | undefined;
  callTool(name: string, args?: Record<string, unknown>, onprogress?: (p: { progress: number; total?: number }) => void): Promise<{ content?: unknown; isError?: boolean }>;
  listTools(): Promise<string[]>;
  listResources(): Promise<string[]>;
  readResource(uri: string): Promise<unknown[]>;
  listPrompts(): Promise<string[]>;
  getPrompt(name: string, args?: Record<string, string>): Promise<unknown[]>;
  setLoggingLevel(level: 'debug' | 'info'): Promise<void>;
  subscribe(uri: string): Promise<void>;
  logs: unknown[];
  updates: string[];
  samplingRequests: unknown[];
  elicitations: unknown[];
  close(): Promise<void>;
}

const CAPS = { sampling: {}, elicitation: { form: {} }, roots: { listChanged: true } };
const sample = { model: 'standin-model', role: 'assistant' as const, content: { type: 'text' as const, text: 'sampled by the test client' } };

/** Connects a real SDK client to `url` with extra headers (the stand-in identity). */
export async function connectClient(line: SdkLine, url: string, headers: Record<string, string>, sessionId?: string): Promise<TestClient> {
  const logs: unknown[] = [];
  const updates: string[] = [];
  const samplingRequests: unknown[] = [];
  const elicitations: unknown[] = [];
  const elicitAnswer = { action: 'accept' as const, content: { name: 'Ada', check: true, email: 'ada@example.org', integer: 7 } };
  if (line === 'v1') {
    const client = new ClientV1({ name: 'test-v1', version: '1.0.0' }, { capabilities: CAPS });
    client.setRequestHandler(CreateMessageRequestSchema, async (r) => (samplingRequests.push(r.params), sample));
    client.setRequestHandler(ElicitRequestSchema, async (r) => (elicitations.push(r.params), elicitAnswer));
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(n.params));
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updates.push(n.params.uri));
    const transport = new TransportV1(new URL(url), { requestInit: { headers }, ...(sessionId ? { sessionId } : {}) });
    await client.connect(transport);
    return {
      line, logs, updates, samplingRequests, elicitations,
      sessionId: () => transport.sessionId,
      callTool: (name, args = {}, onprogress) => client.callTool({ name, arguments: args }, undefined, onprogress ? { onprogress } : undefined) as Promise<{ content?: unknown; isError?: boolean }>,
      listTools: async () => (await client.listTools()).tools.map((t) => t.name),
      listResources: async () => (await client.listResources()).resources.map((r) => r.uri),
      readResource: async (uri) => (await client.readResource({ uri })).contents,
      listPrompts: async () => (await client.listPrompts()).prompts.map((p) => p.name),
      getPrompt: async (name, args) => (await client.getPrompt({ name, arguments: args })).messages,
      setLoggingLevel: async (level) => void (await client.setLoggingLevel(level)),
      subscribe: async (uri) => void (await client.subscribeResource({ uri })),
      close: () => client.close(),
    };
  }
  const client = new ClientV2({ name: 'test-v2', version: '2.0.0' }, { capabilities: CAPS });
  client.setRequestHandler('sampling/createMessage', async (r) => (samplingRequests.push(r.params), sample));
  client.setRequestHandler('elicitation/create', async (r) => (elicitations.push(r.params), elicitAnswer));
  client.setNotificationHandler('notifications/message', (n) => void logs.push(n.params));
  client.setNotificationHandler('notifications/resources/updated', (n) => void updates.push(n.params.uri));
  const transport = new TransportV2(new URL(url), { requestInit: { headers }, ...(sessionId ? { sessionId } : {}) });
  await client.connect(transport);
  return {
    line, logs, updates, samplingRequests, elicitations,
    sessionId: () => transport.sessionId,
    callTool: (name, args = {}, onprogress) => client.callTool({ name, arguments: args }, onprogress ? { onprogress } : undefined) as Promise<{ content?: unknown; isError?: boolean }>,
    listTools: async () => (await client.listTools()).tools.map((t) => t.name),
    listResources: async () => (await client.listResources()).resources.map((r) => r.uri),
    readResource: async (uri) => (await client.readResource({ uri })).contents,
    listPrompts: async () => (await client.listPrompts()).prompts.map((p) => p.name),
    getPrompt: async (name, args) => (await client.getPrompt({ name, arguments: args })).messages,
    setLoggingLevel: async (level) => void (await client.setLoggingLevel(level)),
    subscribe: async (uri) => void (await client.subscribeResource({ uri })),
    close: () => client.close(),
  };
}

/** The text of a tool result's first text block. */
export function textOf(result: { content?: unknown }): string {
  const blocks = (result.content ?? []) as { type: string; text?: string }[];
  return blocks.filter((b) => b.type === 'text').map((b) => b.text).join('\n');
}
