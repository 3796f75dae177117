// Prints the functions with the most self time in a V8 .cpuprofile (from node --cpu-prof).
// Usage: node bench/profile-summary.mjs FILE.cpuprofile [N]
import { readFileSync } from 'node:fs';

const [file, top = '25'] = process.argv.slice(2);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
const deltas = profile.timeDeltas;
profile.samples.forEach((id, i) => {
  const n = byId.get(id);
  const f = n.callFrame;
  const where = f.url.split('/').slice(-2).join('/');
  const key = `${f.functionName || '(anonymous)'} ${where}:${f.lineNumber + 1}`;
  self.set(key, (self.get(key) ?? 0) + (deltas[i] ?? 0));
});
const total = [...self.values()].reduce((a, b) => a + b, 0);
for (const [k, v] of [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(top))) {
  process.stdout.write(`${((v / total) * 100).toFixed(1).padStart(5)}%  ${k}\n`);
}
