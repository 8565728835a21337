// Validate workbooks with Microsoft's Open XML SDK (npm @ooxml-tools/validate, WebAssembly, offline).
// One process for all files: starting the .NET runtime is most of the cost of one validation.
// Usage: node ooxml_validate.mjs PACKAGE_ENTRY BOOK... ; prints {"BOOK": [finding, ...], ...} as JSON.
import { readFile } from "node:fs/promises";
import { pathToFileURL } from "node:url";

const [entry, ...books] = process.argv.slice(2);
const { default: validate } = await import(pathToFileURL(entry).href);
const out = {};
for (const book of books) {
  const bytes = new Uint8Array(await readFile(book));
  out[book] = await validate(bytes, "xlsx", "Microsoft365");
}
process.stdout.write(JSON.stringify(out));
