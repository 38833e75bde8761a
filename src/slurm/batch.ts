import { randomBytes } from "node:crypto";
import { readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PcoccError } from "../util/index.js";
import { batchManagerArgs, batchManagerEnv, launchRequest, launcherCommand, prepareLaunch } from "./alloc.js";
import { BATCH_OPTIONS, launchOptions, splitBatchArgs } from "./batch-args.js";
import { runCommand } from "./commands.js";
import { shellQuote } from "./pcocc-command.js";
import { DEFAULT_JOB_NAME } from "./target.js";

/** Stand for the embedded scripts' paths in the launcher's argv. */
export const HOST_SCRIPT = "<host-script>";
export const BATCH_SCRIPT = "<batch-script>";

const EMBEDDED = [
  { placeholder: HOST_SCRIPT, variable: "TEMP_HOST_SCRIPT", template: "/tmp/pcocc.host.XXXXXX" },
  { placeholder: BATCH_SCRIPT, variable: "TEMP_BATCH_SCRIPT", template: "/tmp/pcocc.batch.XXXXXX" },
] as const;

/**
 * The sbatch script: embeds the host and batch scripts (sbatch copies only the wrapper, and the user may
 * edit their scripts after submitting), runs the launcher in the background and keeps waiting for it through
 * the SIGTERM that `--signal 15` / scancel deliver, so the cluster is torn down in order.
 */
export function batchWrapper(launcher: string[], hostScript?: string, batchScript?: string): string {
  const lines = ["#!/bin/bash", "#SBATCH -o pcocc_%j.out", "#SBATCH -e pcocc_%j.err"];
  const bodies = [hostScript, batchScript];
  EMBEDDED.forEach(({ variable, template }, i) => {
    const body = bodies[i];
    if (body === undefined) return;
    const eof = `PCOCC_SCRIPT_${randomBytes(8).toString("hex")}`;
    lines.push(
      `${variable}="$(mktemp ${template})"`,
      `cat > "$${variable}" <<'${eof}'`,
      body.endsWith("\n") ? body.slice(0, -1) : body,
      eof,
      `chmod u+x "$${variable}"`,
    );
  });
  lines.push(
    `${launcher.map(wrapperWord).join(" ")} &`,
    "PCOCC_PID=$!",
    "trap 'kill -15 $PCOCC_PID; echo \"Signal received, waiting for pcocc to exit\"; SIGNAL=1' SIGTERM SIGINT",
    "while true; do SIGNAL=0; wait $PCOCC_PID; RET=$?; [[ $SIGNAL -eq 0 ]] && break; done",
    'rm -f "$TEMP_HOST_SCRIPT" "$TEMP_BATCH_SCRIPT"',
    "exit $RET",
    "",
  );
  return lines.join("\n");
}

async function readScript(option: string, path: string | undefined): Promise<string | undefined> {
  if (path === undefined) return undefined;
  return readFile(path, "utf8").catch((err: NodeJS.ErrnoException) => {
    throw new PcoccError(`${option}: cannot read script ${path}: ${err.code ?? err.message}`);
  });
}

/** One launcher argument for the wrapper, an embedded script's path substituted where its placeholder stands. */
function wrapperWord(arg: string): string {
  const embedded = EMBEDDED.find((e) => arg.includes(e.placeholder));
  if (!embedded) return shellQuote(arg);
  return arg
    .split(embedded.placeholder)
    .map((part) => (part === "" ? "" : shellQuote(part)))
    .join(`"$${embedded.variable}"`);
}

/** `pcocc batch`: submits the wrapper with sbatch and prints sbatch's answer (the job id). */
export async function batch(args: string[]): Promise<number> {
  const split = splitBatchArgs(args, BATCH_OPTIONS);
  const o = launchOptions(split);
  const hostScript = await readScript("-E", o.script);
  const batchScript = await readScript("-b", o.batchScript);
  const { config, cluster, password } = await prepareLaunch(split.definition, o);
  const launcher = launcherCommand({
    ...launchRequest(split.definition, o),
    script: hostScript === undefined ? undefined : HOST_SCRIPT,
    batchScript: batchScript === undefined ? undefined : BATCH_SCRIPT,
    wait: hostScript === undefined && batchScript === undefined ? true : undefined,
  });
  const wrapper = join(tmpdir(), `pcocc.batch.${process.pid}.${randomBytes(4).toString("hex")}`);
  await writeFile(wrapper, batchWrapper(launcher, hostScript, batchScript), { mode: 0o700 });
  try {
    const sbatchArgs = [
      "-J",
      DEFAULT_JOB_NAME,
      "--signal",
      "15",
      ...batchManagerArgs(config, split.passThrough, cluster.vms.length),
      wrapper,
    ];
    const r = await runCommand("sbatch", sbatchArgs, { env: batchManagerEnv(password) });
    process.stdout.write(r.stdout);
    process.stderr.write(r.stderr);
    return r.code;
  } finally {
    await rm(wrapper, { force: true });
  }
}
