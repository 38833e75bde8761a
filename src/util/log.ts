import type { Logger } from "pino";

/**
 * Verbosity is global to a process (set once from -v/-vv); the logger itself is created on first use so
 * commands that never log do not pay for loading pino.
 */
let verbosity = 0;
let logger: Logger | undefined;

export function setVerbosity(level: number): void {
  verbosity = level;
  if (logger) logger.level = levelName(level);
}

export function getVerbosity(): number {
  return verbosity;
}

function levelName(level: number): string {
  return level >= 2 ? "debug" : level === 1 ? "info" : "warn";
}

export async function log(): Promise<Logger> {
  if (!logger) {
    const { pino } = await import("pino");
    logger = pino({ level: levelName(verbosity), base: undefined }, pino.destination(2));
  }
  return logger;
}
