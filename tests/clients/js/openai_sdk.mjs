// The official openai Node SDK against chatplug serve: one scenario per run, its result as
// one JSON line on stdout.  Usage: node openai_sdk.mjs SCENARIO  (CHATPLUG_URL, MODEL, TEXT_MODEL)
import OpenAI from "openai";

const client = new OpenAI({ baseURL: process.env.CHATPLUG_URL, apiKey: "unused", maxRetries: 0 });
const model = process.env.MODEL;
const weather = {
  type: "function",
  function: {
    name: "get_weather",
    description: "The weather in a city",
    parameters: {
      type: "object",
      properties: { city: { type: "string" } },
      required: ["city"],
    },
  },
};
const ask = (content) => [{ role: "user", content }];

async function streamed(request) {
  const stream = await client.chat.completions.create({ ...request, stream: true });
  const out = { text: "", calls: [], finish: null, usage: null, chunks: 0 };
  for await (const chunk of stream) {
    out.chunks += 1;
    if (chunk.usage) out.usage = chunk.usage;
    const choice = chunk.choices[0];
    if (!choice) continue;
    out.text += choice.delta.content ?? "";
    for (const call of choice.delta.tool_calls ?? []) {
      const slot = (out.calls[call.index] ??= { id: null, name: null, arguments: "" });
      if (call.id) slot.id = call.id;
      if (call.function?.name) slot.name = call.function.name;
      slot.arguments += call.function?.arguments ?? "";
    }
    if (choice.finish_reason) out.finish = choice.finish_reason;
  }
  return out;
}

const scenarios = {
  "stream-text": () => streamed({ model, messages: ask("hello from node") }),
  usage: () =>
    streamed({ model, messages: ask("count me"), stream_options: { include_usage: true } }),
  "stream-tools": () =>
    streamed({ model, messages: ask("get_weather for Paris and get_weather for Rome"), tools: [weather] }),
  "round-trip": async () => {
    const messages = ask("What is the get_weather in Paris?");
    const first = await client.chat.completions.create({ model, messages, tools: [weather] });
    const message = first.choices[0].message;
    messages.push(message);
    for (const call of message.tool_calls) {
      messages.push({ role: "tool", tool_call_id: call.id, content: "sunny, 21 C" });
    }
    const second = await client.chat.completions.create({ model, messages, tools: [weather] });
    return {
      first_finish: first.choices[0].finish_reason,
      calls: message.tool_calls,
      answer: second.choices[0].message.content,
      finish: second.choices[0].finish_reason,
    };
  },
  length: async () => {
    const answer = await client.chat.completions.create({ model, messages: ask("long"), max_tokens: 3 });
    return { finish: answer.choices[0].finish_reason, text: answer.choices[0].message.content, usage: answer.usage };
  },
  refused: async () => {
    try {
      await client.chat.completions.create({ model: process.env.TEXT_MODEL, messages: ask("hi"), tools: [weather] });
      return { status: 200 };
    } catch (error) {
      return { status: error.status, param: error.param, code: error.code };
    }
  },
};

const result = await scenarios[process.argv[2]]();
console.log(JSON.stringify(result));
