// Drives the gateway with the official openai-node SDK and prints what it saw as JSON.
// Run by tests/e2e/test_node_sdk.py, which starts the gateway and checks the output.
import OpenAI from "openai";

const client = new OpenAI({ baseURL: process.env.BASE_URL, apiKey: process.env.API_KEY, maxRetries: 0 });
const model = process.env.MODEL;
const tools = [
  { type: "function", function: { name: "get_weather", description: "Weather",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } } },
  { type: "function", function: { name: "get_time", description: "",
    parameters: { type: "object", properties: { zone: { type: "string" } }, required: ["zone"] } } },
];

async function collect(text, extra = {}) {
  const stream = await client.chat.completions.create({
    model, stream: true, messages: [{ role: "user", content: text }], ...extra,
  });
  const out = { content: "", toolDeltas: [], finishReasons: [], usage: null, ids: new Set() };
  for await (const chunk of stream) {
    out.ids.add(chunk.id);
    if (chunk.usage) out.usage = chunk.usage;
    for (const choice of chunk.choices) {
      out.content += choice.delta.content ?? "";
      for (const tc of choice.delta.tool_calls ?? []) out.toolDeltas.push(tc);
      if (choice.finish_reason) out.finishReasons.push(choice.finish_reason);
    }
  }
  return { ...out, ids: [...out.ids] };
}

const result = {};
const plain = await client.chat.completions.create({ model, messages: [{ role: "user", content: "Hi node" }] });
result.plain = plain.choices[0].message.content;
result.text = await collect("Hi stream", { stream_options: { include_usage: true } });
result.parallel = await collect("[[scenario:parallel_tools]]", { tools });
const runner = client.chat.completions.stream({ model, tools, messages: [{ role: "user", content: "[[scenario:text_then_tool]]" }] });
const final = await runner.finalChatCompletion();
result.helperToolCalls = final.choices[0].message.tool_calls.map((c) => ({ name: c.function.name, args: JSON.parse(c.function.arguments) }));
try {
  await collect("[[scenario:stream_error]]");
  result.midStreamError = null;
} catch (err) {
  result.midStreamError = String(err.message ?? err);
}
try {
  await client.chat.completions.create({ model, messages: [{ role: "user", content: "[[scenario:throttle]]" }] });
  result.throttleStatus = null;
} catch (err) {
  result.throttleStatus = err.status;
}
console.log(JSON.stringify(result));
