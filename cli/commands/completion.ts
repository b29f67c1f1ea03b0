import { Command, type Option } from 'commander';
import { CliError } from '../errors.js';
import { action, examples } from './shared.js';

// Shell completion generated from the command tree itself, so it never drifts from the real flags:
// a table "command path → words" plus a tiny driver per shell.

interface Entry {
  path: string;
  words: string[];
}

function walk(cmd: Command, prefix: string, out: Entry[], choices: Map<string, string[]>, globals: Option[]): void {
  const subs = cmd.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden);
  const options = [...cmd.options, ...(prefix ? globals : [])];
  for (const o of options) if (o.argChoices && o.long) choices.set(o.long, o.argChoices);
  const words = [...subs.flatMap((c) => [c.name()]), ...options.flatMap((o) => [o.long ?? o.short ?? '']).filter(Boolean), '--help'];
  out.push({ path: prefix, words });
  for (const sub of subs) walk(sub, prefix ? `${prefix} ${sub.name()}` : sub.name(), out, choices, globals);
}

function table(program: Command) {
  const entries: Entry[] = [];
  const choices = new Map<string, string[]>();
  walk(program, '', entries, choices, program.options as Option[]);
  return { entries, choices };
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function functions(program: Command): string {
  const { entries, choices } = table(program);
  const words = entries.map((e) => `    ${q(e.path)}) echo ${q(e.words.join(' '))} ;;`).join('\n');
  const known = entries.filter((e) => e.path).map((e) => q(e.path)).join('|');
  const opts = [...choices].map(([flag, values]) => `    ${q(flag)}) echo ${q(values.join(' '))} ;;`).join('\n');
  return `_mockcloud_words() {
  case "$1" in
${words}
  esac
}
_mockcloud_known() {
  case "$1" in
    ${known}) return 0 ;;
  esac
  return 1
}
_mockcloud_choices() {
  case "$1" in
${opts}
    *) return 1 ;;
  esac
}`;
}

export function bashCompletion(program: Command): string {
  return `# mockcloud bash completion. Load with: source <(mockcloud completion bash)
${functions(program)}
_mockcloud() {
  local cur prev cpath="" w next i values
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  if values="$(_mockcloud_choices "$prev")"; then
    COMPREPLY=( $(compgen -W "$values" -- "$cur") )
    return
  fi
  for ((i=1; i<COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    case "$w" in -*) continue ;; esac
    next="\${cpath:+$cpath }$w"
    if _mockcloud_known "$next"; then cpath="$next"; fi
  done
  COMPREPLY=( $(compgen -W "$(_mockcloud_words "$cpath")" -- "$cur") )
}
complete -F _mockcloud mockcloud
`;
}

export function zshCompletion(program: Command): string {
  return `#compdef mockcloud
# mockcloud zsh completion. Load with: source <(mockcloud completion zsh)
# or save it as _mockcloud in a directory of your $fpath.
${functions(program)}
_mockcloud() {
  local cpath="" w next i values
  if values="$(_mockcloud_choices "\${words[CURRENT-1]}")"; then
    compadd -- \${=values}
    return
  fi
  for ((i=2; i<CURRENT; i++)); do
    w="\${words[i]}"
    [[ "$w" == -* ]] && continue
    next="\${cpath:+$cpath }$w"
    _mockcloud_known "$next" && cpath="$next"
  done
  compadd -- \${=$(_mockcloud_words "$cpath")}
}
if (( $+functions[compdef] )); then compdef _mockcloud mockcloud; fi
`;
}

const fq = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** fish has its own syntax: the same table as `switch` statements, one function driving `complete`. */
export function fishCompletion(program: Command): string {
  const { entries, choices } = table(program);
  const words = entries.map((e) => `        case ${fq(e.path)}\n            printf '%s\\n' ${e.words.map(fq).join(' ')}`).join('\n');
  const known = entries.filter((e) => e.path).map((e) => fq(e.path)).join(' ');
  const opts = [...choices].map(([flag, values]) => `        case ${fq(flag)}\n            printf '%s\\n' ${values.map(fq).join(' ')}`).join('\n');
  return `# mockcloud fish completion. Load with: mockcloud completion fish | source
# or save it: mockcloud completion fish > ~/.config/fish/completions/mockcloud.fish
function __mockcloud_words
    switch "$argv[1]"
${words}
    end
end
function __mockcloud_choices
    switch "$argv[1]"
${opts}
        case '*'
            return 1
    end
end
function __mockcloud_complete
    set -l tokens (commandline -opc)
    if __mockcloud_choices "$tokens[-1]"
        return
    end
    set -l cpath ''
    for w in $tokens[2..-1]
        string match -q -- '-*' $w; and continue
        set -l next $w
        test -n "$cpath"; and set next "$cpath $w"
        contains -- $next ${known}; and set cpath $next
    end
    __mockcloud_words "$cpath"
end
complete -c mockcloud -f -a '(__mockcloud_complete)'
`;
}

export function registerCompletionCommand(program: Command): void {
  examples(
    program.command('completion').description('print a shell completion script (bash, zsh or fish)').argument('<shell>', 'bash, zsh or fish'),
    [
      'source <(mockcloud completion bash)      # in ~/.bashrc',
      'source <(mockcloud completion zsh)       # in ~/.zshrc (after compinit)',
      'mockcloud completion zsh > "${fpath[1]}/_mockcloud"',
      'mockcloud completion fish > ~/.config/fish/completions/mockcloud.fish',
    ],
  ).action(
    action(async (shell: string) => {
      if (shell === 'bash') process.stdout.write(bashCompletion(program));
      else if (shell === 'zsh') process.stdout.write(zshCompletion(program));
      else if (shell === 'fish') process.stdout.write(fishCompletion(program));
      else throw new CliError(`no completion for shell "${shell}"`, 'use bash, zsh or fish', 2);
    }),
  );
}
