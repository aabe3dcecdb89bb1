// Drives the gateway's Responses API with the official openai-node SDK and prints what it saw
// as JSON. Run by tests/e2e/test_node_sdk.py, which starts the gateway and checks the output.
import OpenAI from "openai";

const client = new OpenAI({ baseURL: process.env.BASE_URL, apiKey: process.env.API_KEY, maxRetries: 0 });
const model = process.env.MODEL;
const weather = {
  type: "function", name: "get_weather", description: "Weather for a city",
  parameters: { type: "object", properties: { location: { type: "string" } }, required: ["location"] },
};

async function collect(params) {
  const stream = await client.responses.create({ model, stream: true, ...params });
  const out = { types: [], sequence: [], textDeltas: "", argumentDeltas: "", final: null };
  for await (const event of stream) {
    out.types.push(event.type);
    out.sequence.push(event.sequence_number);
    if (event.type === "response.output_text.delta") out.textDeltas += event.delta;
    if (event.type === "response.function_call_arguments.delta") out.argumentDeltas += event.delta;
    if (event.type === "response.completed") out.final = event.response;
  }
  return out;
}

const result = {};
const plain = await client.responses.create({ model, instructions: "Be brief.", input: "Hi node" });
result.plain = { outputText: plain.output_text, status: plain.status, id: plain.id, usage: plain.usage };

const text = await collect({ input: "Hi stream" });
result.text = { types: text.types, sequence: text.sequence, deltas: text.textDeltas,
  finalText: text.final.output.flatMap((o) => o.content ?? []).map((c) => c.text).join("") };

// Function tool round trip: the streamed call goes back with its output on the next turn.
const firstInput = [{ role: "user", content: "[[scenario:tool]] Weather in Paris?" }];
const first = await collect({ input: firstInput, tools: [weather] });
const call = first.final.output.find((o) => o.type === "function_call");
result.toolCall = { types: first.types, name: call.name, args: JSON.parse(call.arguments),
  streamedArgs: JSON.parse(first.argumentDeltas), callId: call.call_id };
const second = await client.responses.create({
  model, tools: [weather],
  input: [...firstInput, ...first.final.output, { type: "function_call_output", call_id: call.call_id, output: "22 C" }],
});
result.toolResult = second.output_text;

// Structured output: the JSON answer arrives as output_text.
const person = await client.responses.create({
  model, input: "John is 42.",
  text: { format: { type: "json_schema", name: "person", strict: true, schema: {
    type: "object", properties: { name: { type: "string" }, age: { type: "integer" } },
    required: ["name", "age"], additionalProperties: false } } },
});
result.structured = JSON.parse(person.output_text);

try {
  await client.responses.create({ model, input: "x", text: { format: { type: "yaml" } } });
  result.badFormat = null;
} catch (err) {
  result.badFormat = { status: err.status, param: err.param ?? err.error?.param ?? null };
}
console.log(JSON.stringify(result));
