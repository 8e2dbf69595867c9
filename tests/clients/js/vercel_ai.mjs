// The Vercel AI SDK (@ai-sdk/openai-compatible) against chatplug serve: it validates every
// chunk with its schema.  Usage: node vercel_ai.mjs SCENARIO  (CHATPLUG_URL, MODEL)
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { stepCountIs, streamText, tool } from "ai";
import { z } from "zod";

const chatplug = createOpenAICompatible({
  name: "chatplug",
  baseURL: process.env.CHATPLUG_URL,
  apiKey: "unused",
  includeUsage: true,
});
const model = chatplug.chatModel(process.env.MODEL);
const errors = [];

async function collect(result) {
  const parts = [];
  for await (const part of result.fullStream) {
    parts.push(part.type);
    if (part.type === "error") errors.push(String(part.error));
  }
  return {
    parts,
    errors,
    text: await result.text,
    finishReason: await result.finishReason,
    usage: await result.totalUsage,
    steps: (await result.steps).length,
  };
}

const scenarios = {
  "stream-text": () => collect(streamText({ model, prompt: "hello from the AI SDK", maxRetries: 0 })),
  "stream-tool": async () => {
    const executed = [];
    const result = streamText({
      model,
      prompt: "What is the get_weather in Paris?",
      maxRetries: 0,
      tools: {
        get_weather: tool({
          description: "The weather in a city",
          inputSchema: z.object({ city: z.string() }),
          execute: async ({ city }) => {
            executed.push(city);
            return `sunny in ${city}`;
          },
        }),
      },
      stopWhen: stepCountIs(2),
    });
    const out = await collect(result);
    const steps = await result.steps;
    out.executed = executed;
    out.firstStepFinish = steps[0].finishReason;
    out.toolCalls = steps[0].toolCalls.map((call) => ({ name: call.toolName, input: call.input }));
    return out;
  },
};

const result = await scenarios[process.argv[2]]();
console.log(JSON.stringify(result));
