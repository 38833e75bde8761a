import { connectAgent, type AgentClient } from "../agent/index.js";

/** How long a VM's agent gets to say hello before the save or checkpoint goes on without freezing it. */
const HELLO_TIMEOUT_MS = 5_000;
/** A freeze syncs every file system first, which a busy TCG guest can take a while to do. */
const FREEZE_TIMEOUT_MS = 30_000;
/**
 * The agent thaws by itself after this long, should nobody ask it to (the host side also thaws it by
 * closing the connection). Guest time: it does not run while a checkpoint has the VM paused.
 */
const FREEZE_BACKSTOP_S = 60;

export interface FrozenGuest {
  /** How many file systems the agent froze (none when it did not answer: a warning said so). */
  frozen: number;
  /** Thaws the guest (warning if that fails) and closes the connection; later calls do nothing. */
  thaw(): Promise<void>;
  /** Closes the connection without asking for a thaw (the VM is gone, or the agent thaws on hang-up). */
  close(): void;
}

export interface FreezeOptions {
  vm: { name: string; paths: { agentSocket: string } };
  /** What the warning is about, e.g. "saving it without freezing". */
  otherwise: string;
  warn: (line: string) => void;
}

/**
 * Freezes a VM's guest file systems through its agent on this node (the connection `pcocc agent freeze`
 * uses). A VM whose agent does not answer in a few seconds is not waited for: `warn` gets one line naming
 * it and the caller goes on unfrozen.
 */
export async function freezeGuest(opts: FreezeOptions): Promise<FrozenGuest> {
  const { vm, warn } = opts;
  let client: AgentClient | undefined;
  let frozen: number;
  try {
    ({ client } = await connectAgent(vm.paths.agentSocket, {
      vm: vm.name,
      helloTimeoutMs: HELLO_TIMEOUT_MS,
      timeoutMs: FREEZE_TIMEOUT_MS,
    }));
    frozen = await client.freeze(FREEZE_BACKSTOP_S);
  } catch (err) {
    client?.close(); // the agent thaws whatever it froze when the host side goes
    warn(`warning: ${(err as Error).message}; ${opts.otherwise}`);
    return { frozen: 0, thaw: async () => undefined, close: () => undefined };
  }
  let open = true;
  const agent = client;
  return {
    frozen,
    thaw: async () => {
      if (!open) return;
      open = false;
      await agent.thaw().catch((err: Error) => warn(`warning: ${err.message}`));
      agent.close();
    },
    close: () => {
      open = false;
      agent.close();
    },
  };
}

/** A restored guest's agent answers once the VM runs again; it may need its first scheduling slices. */
const RESTORED_HELLO_TIMEOUT_MS = 30_000;

/**
 * A checkpoint holds its guests frozen (`pcocc ckpt` froze them before writing): once the restored VM
 * runs, its agent comes back with the VM's memory and reconnects; this thaws the guest through it.
 * Resolves with how many file systems were thawed, or rejects naming the VM.
 */
export async function thawRestoredGuest(vm: FreezeOptions["vm"]): Promise<number> {
  const { client } = await connectAgent(vm.paths.agentSocket, {
    vm: vm.name,
    helloTimeoutMs: RESTORED_HELLO_TIMEOUT_MS,
    timeoutMs: FREEZE_TIMEOUT_MS,
  });
  try {
    return await client.thaw();
  } finally {
    client.close();
  }
}
