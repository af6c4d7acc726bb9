// Fails when any module imports itself through others (an import cycle), in
// any workspace: cycles are how layers quietly start leaning on each other.
// Type-only imports count too: they tie the modules' designs together even
// when nothing is loaded at run time.
//
//   npx tsx scripts/import-cycles.ts          list cycles, exit 1 if any
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const projects = ['packages/db', 'packages/engine', 'apps/web'];
const skipped = new Set(['node_modules', 'generated', 'test-results', 'dist']);

function sourcesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (skipped.has(entry.name) || entry.name.startsWith('.')) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourcesUnder(full));
    else if (/\.tsx?$/.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

function compilerOptions(project: string): ts.CompilerOptions {
  const configPath = path.join(root, project, 'tsconfig.json');
  const config = ts.readConfigFile(configPath, (p) => ts.sys.readFile(p));
  return ts.parseJsonConfigFileContent(config.config, ts.sys, path.dirname(configPath)).options;
}

/** Module → the workspace modules it imports (resolved files inside the repository). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const project of projects) {
    const options = compilerOptions(project);
    for (const file of sourcesUnder(path.join(root, project))) {
      const info = ts.preProcessFile(ts.sys.readFile(file) ?? '', true, true);
      const targets: string[] = [];
      for (const ref of info.importedFiles) {
        const resolved = ts.resolveModuleName(ref.fileName, file, options, ts.sys).resolvedModule
          ?.resolvedFileName;
        if (!resolved || (resolved.includes('/node_modules/') && !resolved.startsWith(root)))
          continue;
        const real = ts.sys.realpath?.(resolved) ?? resolved;
        if (real.startsWith(root) && !real.includes('/node_modules/') && !real.endsWith('.d.ts'))
          targets.push(real);
      }
      graph.set(file, targets);
    }
  }
  return graph;
}

/** Tarjan's strongly connected components with more than one module (or a self-import). */
function cycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const indexOf = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    indexOf.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!indexOf.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, indexOf.get(w)!));
    }
    if (low.get(v) === indexOf.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!indexOf.has(v)) visit(v);
  return found;
}

const found = cycles(importGraph());
for (const component of found) {
  console.log(`import cycle (${component.length} modules):`);
  for (const file of component) console.log(`  ${path.relative(root, file)}`);
}
if (found.length > 0) process.exit(1);
console.log('No import cycles.');
