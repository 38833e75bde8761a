// Runs one addRevision in its own process so the test can SIGKILL it at an arbitrary point of the commit.
import { addRevision } from "../../../src/image/index.js";

const [configJson, uri, layer] = process.argv.slice(2);
process.stdout.write("ready\n");
const rev = await addRevision(JSON.parse(configJson!), uri!, layer!);
process.stdout.write(`done ${rev.revision}\n`);
