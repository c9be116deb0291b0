/** `npm run bench`: every benchmark, figures and ratios, one report. */
import { benchApply, benchLoad, benchPlan } from './core.ts';
import { benchWatch } from './watch.ts';

const sections: [string, () => Promise<string[]>][] = [
  ['Manifests', benchLoad],
  ['Plan (pure, no I/O)', benchPlan],
  ['Apply on the sim backend', () => benchApply()],
  ['Watch: manifest save to first operation', benchWatch],
];
const only = process.argv[2];
for (const [title, run] of sections) {
  if (only && !title.toLowerCase().includes(only.toLowerCase())) continue;
  console.log(`\n## ${title}`);
  for (const line of await run()) console.log(line);
}
