#!/usr/bin/env node
// Lists the source files over MAX_FILE_LINES lines and the functions (declarations, methods,
// constructors, accessors, function expressions, arrow functions) whose body spans more than
// MAX_FUNCTION_LINES lines, and exits 1 when there is any: the size limits of issue #13 as a check
// rather than a wish. Parsing uses the TypeScript compiler API, so a brace in a string or a regex
// does not fool it.
//   node scripts/code-size.mjs            check src/ bench/ scripts/ test/ of the repository
//   node scripts/code-size.mjs DIR|FILE…  check these instead (tests point it at fixtures)
// (npm run check:size). One line per finding: `path:line name N lines`.
// A `describe(...)` callback is not counted as a function: it is the test file's grouping, the
// same as the top level of a module, and the `it(...)` bodies inside it are counted one by one.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const MAX_FILE_LINES = 500;
export const MAX_FUNCTION_LINES = 80;
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DEFAULT_DIRS = ['src', 'bench', 'scripts', 'test'];
const KINDS = { '.ts': ts.ScriptKind.TS, '.tsx': ts.ScriptKind.TSX, '.mjs': ts.ScriptKind.JS };
/** Build output and data, not source: node_modules, dist, bench results, dot-folders (bench/.build). */
const SKIP_DIRS = new Set(['node_modules', 'dist', 'results']);
const skipped = (name) => SKIP_DIRS.has(name) || name.startsWith('.');

/** Every .ts/.tsx/.mjs file under `path` (or `path` itself), sorted for a stable report. */
export function sourceFiles(path) {
  if (!statSync(path).isDirectory()) return extname(path) in KINDS ? [path] : [];
  return readdirSync(path, { withFileTypes: true })
    .filter((e) => !(e.isDirectory() && skipped(e.name)))
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((e) => sourceFiles(join(path, e.name)));
}

const lineCount = (text) => (text.endsWith('\n') ? text.split('\n').length - 1 : text.split('\n').length);

/** The callee of a call as written, e.g. `describe` or `describe.skipIf` (null for other shapes). */
function calleeName(expr) {
  if (ts.isIdentifier(expr)) return expr.text;
  if (ts.isPropertyAccessExpression(expr)) {
    const left = calleeName(expr.expression);
    return left ? `${left}.${expr.name.text}` : null;
  }
  if (ts.isCallExpression(expr)) return calleeName(expr.expression); // describe.skipIf(x)(...)
  return null;
}

const propertyName = (name) =>
  name && (ts.isIdentifier(name) || ts.isStringLiteral(name)) ? name.text : null;

/** What a reader would call the function: its own name, the variable/property it is assigned to,
 *  or the call it is an argument of (`it('name') callback`). */
function functionName(node) {
  const own = propertyName(node.name);
  const cls = node.parent && ts.isClassLike(node.parent) ? propertyName(node.parent.name) : null;
  if (ts.isConstructorDeclaration(node)) return `${cls ?? '<class>'}.constructor`;
  if (own) return cls ? `${cls}.${own}` : own;
  const p = node.parent;
  if (p && (ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p))) {
    return propertyName(p.name) ?? '<anonymous>';
  }
  if (p && ts.isCallExpression(p)) {
    const callee = calleeName(p.expression) ?? 'call';
    const first = p.arguments[0];
    const label = first && ts.isStringLiteralLike(first) ? `('${first.text}')` : '(...)';
    return `${callee}${label} callback`;
  }
  return '<anonymous>';
}

/** A describe(...) callback groups tests; it is not a function in the sense of the limit. */
function isTestGroup(node) {
  const p = node.parent;
  if (!p || !ts.isCallExpression(p) || !p.arguments.includes(node)) return false;
  return /^describe(\.|$)/.test(calleeName(p.expression) ?? '');
}

/** The findings of one file's text: [{ line, name, lines }] for each function over the limit. */
export function longFunctions(fileName, text, maxLines = MAX_FUNCTION_LINES) {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, KINDS[extname(fileName)]);
  const lineOf = (pos) => source.getLineAndCharacterOfPosition(pos).line + 1;
  const found = [];
  const visit = (node) => {
    if (ts.isFunctionLike(node) && node.body && !isTestGroup(node)) {
      const lines = lineOf(node.body.getEnd()) - lineOf(node.body.getStart(source)) + 1;
      if (lines > maxLines)
        found.push({ line: lineOf(node.getStart(source)), name: functionName(node), lines });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** Every finding under `paths`: long files first, then long functions, as report lines. */
export function check(paths) {
  const report = [];
  for (const file of paths.flatMap(sourceFiles)) {
    const text = readFileSync(file, 'utf8');
    const shown = relative(process.cwd(), file) || file;
    const lines = lineCount(text);
    if (lines > MAX_FILE_LINES) report.push(`${shown}:1 file ${lines} lines (limit ${MAX_FILE_LINES})`);
    for (const f of longFunctions(file, text)) {
      report.push(`${shown}:${f.line} ${f.name} ${f.lines} lines (limit ${MAX_FUNCTION_LINES})`);
    }
  }
  return report;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const paths = args.length ? args : DEFAULT_DIRS.map((d) => join(ROOT, d));
  const report = check(paths);
  for (const line of report) console.log(line);
  if (report.length) {
    console.error(`code-size: ${report.length} over the limits`);
    process.exit(1);
  }
  console.log(`code-size: no file over ${MAX_FILE_LINES} lines, no function over ${MAX_FUNCTION_LINES}`);
}
