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

/**
 * The sbatch script: embeds the host script (sbatch copies only the wrapper, and the user may edit their
 * script after submitting), runs the launcher in the background and keeps waiting for it through the
 * SIGTERM that `--signal 15` / scancel deliver, so the cluster is torn down in order.
 */
export function batchWrapper(launcher: string[], hostScript?: string): string {
  const lines = ["#!/bin/bash", "#SBATCH -o pcocc_%j.out", "#SBATCH -e pcocc_%j.err"];
  if (hostScript !== undefined) {
    const eof = `PCOCC_HOST_SCRIPT_${randomBytes(8).toString("hex")}`;
    lines.push(
      'TEMP_HOST_SCRIPT="$(mktemp /tmp/pcocc.host.XXXXXX)"',
      `cat > "$TEMP_HOST_SCRIPT" <<'${eof}'`,
      hostScript.endsWith("\n") ? hostScript.slice(0, -1) : hostScript,
      eof,
      'chmod u+x "$TEMP_HOST_SCRIPT"',
    );
  }
  lines.push(
    `${launcher.map(withHostScript).join(" ")} &`,
    "PCOCC_PID=$!",
    "trap 'kill -15 $PCOCC_PID; echo \"Signal received, waiting for pcocc to exit\"; SIGNAL=1' SIGTERM SIGINT",
    "while true; do SIGNAL=0; wait $PCOCC_PID; RET=$?; [[ $SIGNAL -eq 0 ]] && break; done",
    '[[ -n "$TEMP_HOST_SCRIPT" ]] && rm -f "$TEMP_HOST_SCRIPT"',
    "exit $RET",
    "",
  );
  return lines.join("\n");
}

/** Stands for the embedded host script's path in the launcher's argv. */
export const HOST_SCRIPT = "<host-script>";

/** One launcher argument for the wrapper, the host script's path substituted where HOST_SCRIPT stands. */
function withHostScript(arg: string): string {
  if (!arg.includes(HOST_SCRIPT)) return shellQuote(arg);
  return arg
    .split(HOST_SCRIPT)
    .map((part) => (part === "" ? "" : shellQuote(part)))
    .join('"$TEMP_HOST_SCRIPT"');
}

/** `pcocc batch`: submits the wrapper with sbatch and prints sbatch's answer (the job id). */
export async function batch(args: string[]): Promise<number> {
  const split = splitBatchArgs(args, BATCH_OPTIONS);
  const o = launchOptions(split);
  if (o.batchScript !== undefined) {
    throw new PcoccError(
      "pcocc batch -b needs the pcocc guest agent to run a script inside vm0, and this version has none yet; " +
        "use -E to run a host script instead (it can reach the VMs with pcocc ssh)",
    );
  }
  let hostScript: string | undefined;
  if (o.script !== undefined) {
    hostScript = await readFile(o.script, "utf8").catch((err: Error) => {
      throw new PcoccError(`-E: cannot read host script ${o.script}: ${err.message}`);
    });
  }
  const { config, cluster, password } = await prepareLaunch(split.definition, o);
  const launcher = launcherCommand({
    ...launchRequest(split.definition, o),
    script: hostScript === undefined ? undefined : HOST_SCRIPT,
    wait: hostScript === undefined ? true : undefined,
  });
  const wrapper = join(tmpdir(), `pcocc.batch.${process.pid}.${randomBytes(4).toString("hex")}`);
  await writeFile(wrapper, batchWrapper(launcher, hostScript), { mode: 0o700 });
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
