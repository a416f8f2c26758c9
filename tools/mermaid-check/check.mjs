// Parse every ```mermaid block of the given Markdown files with Mermaid's own
// parser, so a diagram that Forgejo or GitHub would fail to draw fails here.
//
// Usage: node tools/mermaid-check/check.mjs FILE.md ...
// Exit status: 0 when every block parses, 1 when one does not, 2 on bad usage.
import { readFileSync } from "node:fs";
import { JSDOM } from "jsdom";

// Mermaid sanitizes labels with DOMPurify, which needs a DOM even to parse.
const dom = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false });

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node check.mjs FILE.md ...");
  process.exit(2);
}

const fence = /^```mermaid\n([\s\S]*?)^```$/gm;
let blocks = 0;
let failures = 0;
for (const file of files) {
  const text = readFileSync(file, "utf8");
  for (const match of text.matchAll(fence)) {
    blocks += 1;
    const line = text.slice(0, match.index).split("\n").length;
    try {
      await mermaid.parse(match[1]);
    } catch (error) {
      failures += 1;
      console.error(`${file}:${line}: invalid Mermaid diagram: ${error.message}`);
    }
  }
}
console.log(`${blocks} Mermaid diagrams checked, ${failures} invalid`);
process.exit(failures === 0 ? 0 : 1);
