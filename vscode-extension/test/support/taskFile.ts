/** Lines of steps in a Task YAML file, found by reading it as a user would. */
import * as fs from 'fs';

export interface StepLines {
  name: string;
  /** 1-based line of the step's "- name:" entry (the line a frame and a breakpoint land on). */
  first: number;
  /** 1-based line of the first `script:` line under it, if any. */
  script?: number;
}

/** The steps of the (single) Task in `file`, in order. */
export function stepLines(file: string): StepLines[] {
  const lines = fs.readFileSync(file, 'utf8').split(/\r?\n/);
  const steps: StepLines[] = [];
  let inSteps = false;
  let itemIndent = -1;
  lines.forEach((text, i) => {
    const indent = text.length - text.trimStart().length;
    if (/^\s*steps:\s*$/.test(text)) {
      inSteps = true;
      itemIndent = -1;
      return;
    }
    if (!inSteps || !text.trim() || text.trim().startsWith('#')) {
      return;
    }
    const item = /^(\s*)- name:\s*(\S+)/.exec(text);
    if (item && (itemIndent < 0 || indent === itemIndent)) {
      itemIndent = indent;
      steps.push({ name: item[2].replace(/^["']|["']$/g, ''), first: i + 1 });
      return;
    }
    if (itemIndent >= 0 && indent <= itemIndent && !text.trimStart().startsWith('-')) {
      inSteps = false; // the next key of the spec
      return;
    }
    const current = steps[steps.length - 1];
    if (current && current.script === undefined && /^\s*script:/.test(text)) {
      current.script = i + 1;
    }
  });
  return steps;
}
