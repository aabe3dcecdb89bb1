// Drives the gateway with the Vercel AI SDK (`ai` + `@ai-sdk/openai`), configured the way its
// users point it at any OpenAI-compatible endpoint, and prints what the SDK gave back as JSON.
// Usage: node aisdk.mjs <case>. Run by tests/e2e/test_ai_sdk.py, which checks the output.
import { createOpenAI } from "@ai-sdk/openai";
import {
  embed, embedMany, generateObject, generateText, Output, stepCountIs, streamObject, streamText, tool,
} from "ai";
import { z } from "zod";

const openai = createOpenAI({ baseURL: process.env.BASE_URL, apiKey: process.env.API_KEY });
const modelId = process.env.MODEL;
// The model each API name stands for, and per-call options that go with it. `stateless` is the
// Responses provider with `store: false`, which makes the SDK resend past output instead of
// referring to it by id (`item_reference`, which the gateway resolves from its item store).
const models = {
  chat: () => openai.chat(modelId),
  responses: () => openai.responses(modelId),
  default: () => openai(modelId),
  stateless: () => openai.responses(modelId),
};
const callOptions = (api) => (api === "stateless" ? { providerOptions: { openai: { store: false } } } : {});

function usageOf(usage) {
  return { inputTokens: usage?.inputTokens, outputTokens: usage?.outputTokens, totalTokens: usage?.totalTokens };
}

// A tool whose execute records what the SDK parsed, so the test sees the arguments it ran with.
function weatherTools(seen) {
  return {
    get_weather: tool({
      description: "Current weather for a city",
      inputSchema: z.object({ city: z.string() }),
      execute: async ({ city }) => {
        seen.push({ city });
        return `22 C in ${city}`;
      },
    }),
  };
}

function stepsOf(steps) {
  return steps.map((s) => ({
    finishReason: s.finishReason,
    toolCalls: s.toolCalls.map((c) => ({ name: c.toolName, input: c.input })),
    toolResults: s.toolResults.map((r) => r.output),
    text: s.text,
  }));
}

const person = z.object({ name: z.string(), age: z.number().int() });

const cases = {
  async text(api) {
    const r = await generateText({ model: models[api](), instructions: "Be brief.", prompt: "Hi aisdk", maxRetries: 0 });
    return { text: r.text, finishReason: r.finishReason, usage: usageOf(r.usage), responseId: r.response.id,
      warnings: r.warnings };
  },

  // Extended thinking: `forceReasoning` because the SDK only asks for reasoning from models it
  // knows; with `store: false` the SDK also asks for the reasoning's encrypted_content, which
  // carries Claude's signed thinking into the next step.
  async reasoning(api) {
    const seen = [];
    const providerOptions = { openai: { reasoningEffort: "low", forceReasoning: true,
      ...(api === "stateless" ? { store: false, reasoningSummary: "auto" } : {}) } };
    const r = await generateText({ model: models[api](), tools: weatherTools(seen), stopWhen: stepCountIs(3),
      prompt: "[[scenario:tool]] Weather in Paris?", providerOptions, maxRetries: 0 });
    const s = streamText({ model: models[api](), prompt: "Hi reasoning", providerOptions, maxRetries: 0 });
    return { seen, text: r.text, stepReasoning: r.steps.map((step) => step.reasoningText ?? null),
      streamed: { text: await s.text, reasoning: (await s.reasoningText) ?? null } };
  },

  // A second turn built the SDK's way: the first turn's response.messages plus a new question.
  async conversation(api) {
    const first = [{ role: "user", content: "First question" }];
    const one = await generateText({ model: models[api](), messages: first, maxRetries: 0, ...callOptions(api) });
    const messages = [...first, ...one.response.messages, { role: "user", content: "Second question" }];
    try {
      const two = await generateText({ model: models[api](), messages, maxRetries: 0, ...callOptions(api) });
      return { first: one.text, second: two.text };
    } catch (err) {
      return { first: one.text, error: { status: err.statusCode, message: err.data?.error?.message ?? err.message } };
    }
  },

  // Settings users pass: the test reads what reached Bedrock from the emulator's log.
  async settings(api) {
    const r = await generateText({
      model: models[api](), prompt: "[[scenario:tool]] Weather in Paris?", maxRetries: 0,
      temperature: 0.3, maxOutputTokens: 321, stopSequences: ["STOP"],
      tools: weatherTools([]), toolChoice: { type: "tool", toolName: "get_weather" },
    });
    return { finishReason: r.finishReason, toolCalls: r.toolCalls.map((c) => c.toolName), warnings: r.warnings };
  },

  async stream(api) {
    const r = streamText({ model: models[api](), prompt: "Hi aisdk stream", maxRetries: 0 });
    const parts = [];
    for await (const delta of r.textStream) parts.push(delta);
    return { parts, text: await r.text, finishReason: await r.finishReason, usage: usageOf(await r.usage) };
  },

  async tools(api) {
    const seen = [];
    const r = await generateText({
      model: models[api](), tools: weatherTools(seen), stopWhen: stepCountIs(3), maxRetries: 0,
      prompt: `[[scenario:${process.env.SCENARIO ?? "tool"}]] Weather in Paris?`, ...callOptions(api),
    });
    return { seen, text: r.text, finishReason: r.finishReason, steps: stepsOf(r.steps), usage: usageOf(r.totalUsage) };
  },

  async streamTools(api) {
    const seen = [];
    const r = streamText({
      model: models[api](), tools: weatherTools(seen), stopWhen: stepCountIs(3), maxRetries: 0,
      prompt: "[[scenario:text_then_tool]] Weather in Paris?", ...callOptions(api),
    });
    const types = [];
    const errors = [];
    for await (const part of r.fullStream) {
      types.push(part.type);
      if (part.type === "error") errors.push(String(part.error?.message ?? part.error));
    }
    return { seen, types, errors, text: await r.text, finishReason: await r.finishReason,
      steps: stepsOf(await r.steps), usage: usageOf(await r.totalUsage) };
  },

  async object(api) {
    const r = await generateObject({ model: models[api](), schema: person, prompt: "John is 42.", maxRetries: 0 });
    return { object: r.object, finishReason: r.finishReason, usage: usageOf(r.usage) };
  },

  // generateObject's successor in AI SDK 6+: generateText with an output schema.
  async output(api) {
    const r = await generateText({ model: models[api](), output: Output.object({ schema: person }),
      prompt: "John is 42.", maxRetries: 0 });
    return { object: r.output, text: r.text, finishReason: r.finishReason };
  },

  async streamObject(api) {
    const r = streamObject({ model: models[api](), schema: person, prompt: "John is 42.", maxRetries: 0 });
    const partials = [];
    for await (const partial of r.partialObjectStream) partials.push(partial);
    return { object: await r.object, partials: partials.length, usage: usageOf(await r.usage) };
  },

  async embed() {
    const model = openai.embedding(process.env.EMBEDDING_MODEL);
    const one = await embed({ model, value: "hello node", maxRetries: 0 });
    const many = await embedMany({ model, values: ["hello node", "second text"], maxRetries: 0,
      providerOptions: { openai: { dimensions: 256 } } });
    return { one: { embedding: one.embedding, tokens: one.usage?.tokens },
      many: { embeddings: many.embeddings, tokens: many.usage?.tokens } };
  },
};

const [name, api = "chat"] = process.argv.slice(2);
if (!cases[name] || !models[api]) {
  console.error(`unknown case ${name} / ${api}`);
  process.exit(2);
}
try {
  console.log(JSON.stringify(await cases[name](api)));
} catch (err) {
  // The SDK's own error (status, URL, response body) is what tells why a call failed.
  console.error(err?.name, err?.message, err?.statusCode ?? "", err?.responseBody ?? "", err?.cause ?? "");
  process.exit(1);
}
