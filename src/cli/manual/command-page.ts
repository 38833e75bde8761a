import type { Command, Help } from "commander";
import { passThroughOf } from "../pass-through-help.js";
import type { Block, Page } from "./document.js";

/** Sub-commands a page documents: commander's implicit `help` sub-command is not one of them. */
function children(help: Help, cmd: Command): Command[] {
  return help.visibleCommands(cmd).filter((c) => c.name() !== "help" || cmd.parent === null);
}

function leaves(help: Help, cmd: Command): Command[] {
  const subs = children(help, cmd);
  return subs.length === 0 ? [cmd] : subs.flatMap((c) => leaves(help, c));
}

const code = (text: string) => `\`${text}\``;

/** What `--help` lists for one command: its arguments, options and pass-through options. */
function commandBody(help: Help, cmd: Command, label: (title: string) => Block): Block[] {
  const blocks: Block[] = [];
  const args = help.visibleArguments(cmd);
  if (args.length > 0) {
    blocks.push(label("ARGUMENTS"));
    const items = args.map((a) => ({
      term: code(help.argumentTerm(a)),
      body: [help.argumentDescription(a)],
    }));
    blocks.push({ kind: "defs", items });
  }
  blocks.push(label("OPTIONS"));
  const items = help
    .visibleOptions(cmd)
    .map((o) => ({ term: code(help.optionTerm(o)), body: [help.optionDescription(o)] }));
  blocks.push({ kind: "defs", items });
  const passThrough = passThroughOf(cmd);
  if (passThrough) {
    blocks.push({ kind: "para", text: `${passThrough.heading}:` });
    blocks.push({
      kind: "defs",
      items: passThrough.options.map((o) => ({ term: code(o.flags), body: [o.description] })),
    });
    if (passThrough.notes) blocks.push({ kind: "para", text: passThrough.notes });
  }
  return blocks;
}

const section = (title: string): Block => ({ kind: "heading", level: 2, text: title });
/** Inside a COMMANDS entry the argument and option lists are labelled paragraphs, not sections. */
const label = (title: string): Block => ({
  kind: "para",
  text: `**${title[0]}${title.slice(1).toLowerCase()}:**`,
});

/**
 * The section-1 page of a top-level verb, from its commander definition (what `--help` prints) plus the
 * hand-written sections of docs/verbs/<verb>.md: a DESCRIPTION there extends the generated one, the other
 * sections (JSON OUTPUT, EXAMPLES, SEE ALSO, ...) follow the options.
 */
export function verbPage(cmd: Command, extra: Block[]): Page {
  const help = cmd.createHelp();
  const verbs = leaves(help, cmd);
  const [intro, rest] = splitDescription(extra);
  const blocks: Block[] = [
    { kind: "heading", level: 2, text: "SYNOPSIS" },
    { kind: "lines", lines: verbs.map((v) => code(help.commandUsage(v))) },
    { kind: "heading", level: 2, text: "DESCRIPTION" },
    { kind: "para", text: help.commandDescription(cmd) },
    ...intro,
  ];
  if (verbs.length === 1 && verbs[0] === cmd) {
    blocks.push(...commandBody(help, cmd, section));
  } else {
    blocks.push({ kind: "heading", level: 2, text: "COMMANDS" });
    for (const v of verbs) {
      blocks.push({ kind: "heading", level: 3, text: help.commandUsage(v) });
      blocks.push({ kind: "para", text: help.commandDescription(v) });
      blocks.push(...commandBody(help, v, label));
    }
  }
  return { name: pageName(cmd), section: 1, summary: cmd.description(), blocks: [...blocks, ...rest] };
}

function splitDescription(extra: Block[]): [Block[], Block[]] {
  const first = extra[0];
  if (first?.kind !== "heading" || first.text !== "DESCRIPTION") return [[], extra];
  const end = extra.findIndex((b, i) => i > 0 && b.kind === "heading" && b.level === 2);
  return end < 0 ? [extra.slice(1), []] : [extra.slice(1, end), extra.slice(end)];
}

/** `pcocc-image` for `pcocc image`, `pcocc` for the program. */
export function pageName(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join("-");
}

/** pcocc(1): global options and the list of verbs, each pointing at its own page. */
export function programPage(program: Command, extra: Block[]): Page {
  const help = program.createHelp();
  const [intro, rest] = splitDescription(extra);
  const verbs = children(help, program).map((c) => ({
    term: `**${c.name()}**`,
    body: [`${help.commandDescription(c)}: see ${pageName(c)}(1).`],
  }));
  const blocks: Block[] = [
    { kind: "heading", level: 2, text: "SYNOPSIS" },
    { kind: "para", text: code("pcocc [options] COMMAND [ARGS...]") },
    { kind: "heading", level: 2, text: "DESCRIPTION" },
    { kind: "para", text: help.commandDescription(program) },
    ...intro,
    ...commandBody(help, program, section),
    { kind: "heading", level: 2, text: "COMMANDS" },
    { kind: "defs", items: verbs },
  ];
  return { name: "pcocc", section: 1, summary: program.description(), blocks: [...blocks, ...rest] };
}
