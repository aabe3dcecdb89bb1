// Drives the gateway's embeddings with the official openai-node SDK and prints the vectors it
// got as JSON. Run by tests/e2e/test_node_sdk.py, which checks them against the emulator's.
import OpenAI from "openai";

const client = new OpenAI({ baseURL: process.env.BASE_URL, apiKey: process.env.API_KEY, maxRetries: 0 });
const model = process.env.EMBEDDING_MODEL;
const input = ["hello node", "second text"];

function decodeBase64(b64) {
  const bytes = Buffer.from(b64, "base64");
  return Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4));
}

const floats = await client.embeddings.create({ model, input, dimensions: 256, encoding_format: "float" });
const base64 = await client.embeddings.create({ model, input, dimensions: 256, encoding_format: "base64" });
// Without encoding_format the SDK asks for base64 and decodes it itself.
const sdkDefault = await client.embeddings.create({ model, input: "hello node", dimensions: 256 });

console.log(JSON.stringify({
  float: { model: floats.model, indices: floats.data.map((d) => d.index),
    vectors: floats.data.map((d) => d.embedding), usage: floats.usage },
  base64: { isString: base64.data.map((d) => typeof d.embedding === "string"),
    vectors: base64.data.map((d) => decodeBase64(d.embedding)) },
  sdkDefault: sdkDefault.data[0].embedding,
}));
