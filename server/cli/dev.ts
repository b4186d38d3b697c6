// Entry for `npm run dev`: runs the CLI straight from TypeScript sources.
import { run } from "./main.js";

run(process.argv.slice(2));
