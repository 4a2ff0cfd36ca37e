/**
 * Start-up problems with Vigil's data directory, said in one line that names the config key
 * (`dataDir`) and the path, instead of a bare "SqliteError: attempt to write a readonly database"
 * or an ENOTDIR stack trace: a folder that is a file, a read-only folder or database, a corrupt
 * database, a full disk. The CLI prints the message and exits non-zero.
 */
import { mkdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** A start-up problem whose message is meant for the operator as it is (no stack trace). */
export class StartupError extends Error {
  constructor(
    message: string,
    /** The config key to change. */
    readonly key: string,
    readonly path: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'StartupError';
  }
}

const codeOf = (e: unknown) => String((e as { code?: unknown }).code ?? '');
const where = (dataDir: string) => {
  const abs = resolve(dataDir);
  return abs === dataDir ? `dataDir ${abs}` : `dataDir "${dataDir}" (${abs})`;
};

function fsProblem(code: string): string | undefined {
  if (code === 'ENOTDIR' || code === 'EEXIST')
    return 'is a file, not a folder: set dataDir to a folder Vigil may write';
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS')
    return `is not writable (${code}): give Vigil's user write access, or set dataDir to a folder it can write`;
  if (code === 'ENOSPC' || code === 'EDQUOT')
    return `is on a full disk (${code}): free some space, or set dataDir to a folder on another disk`;
  return undefined;
}

/**
 * Makes sure dataDir is a folder Vigil can write (creating it when missing), before anything is
 * opened in it; throws a StartupError naming the key and the path.
 */
export function checkDataDir(dataDir: string): void {
  const abs = resolve(dataDir);
  try {
    if (!statSync(abs, { throwIfNoEntry: false })?.isDirectory()) mkdirSync(abs, { recursive: true });
    const probe = join(abs, `.vigil-write-check-${process.pid}`);
    writeFileSync(probe, 'ok');
    unlinkSync(probe);
  } catch (e) {
    const code = codeOf(e);
    const problem = fsProblem(code);
    if (!problem) throw new StartupError(`${where(dataDir)}: ${(e as Error).message}`, 'dataDir', abs, code);
    throw new StartupError(`${where(dataDir)} ${problem}`, 'dataDir', abs, code);
  }
}

function sqliteProblem(code: string, file: string): string | undefined {
  if (code.startsWith('SQLITE_READONLY'))
    return `the database ${file} is read-only (${code}): give Vigil's user write access to it and its folder, or set dataDir to a folder it can write`;
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT'))
    return `${file} is not a valid SQLite database (${code}, corrupt or another kind of file): move it away to start with an empty gallery, or restore it from a backup; it was not changed`;
  if (code === 'SQLITE_FULL')
    return `the disk holding ${file} is full (${code}): free some space, or set dataDir to a folder on another disk; nothing was changed`;
  if (code.startsWith('SQLITE_CANTOPEN'))
    return `cannot open the database ${file} (${code}): is it a folder, or is its folder unreadable?`;
  if (code.startsWith('SQLITE_IOERR'))
    return `input/output error on the database ${file} (${code}): check the disk`;
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED')
    return `the database ${file} is locked by another process (${code}): stop it or wait, then start again`;
  return undefined;
}

/** The error of opening or migrating a database in dataDir, as a StartupError when it is a known problem. */
export function dataDirError(e: unknown, dataDir: string, file: string): Error {
  if (e instanceof StartupError) return e;
  const code = codeOf(e);
  const abs = resolve(file);
  const problem = sqliteProblem(code, abs);
  if (problem) return new StartupError(`${where(dataDir)}: ${problem}`, 'dataDir', abs, code);
  const fs = fsProblem(code);
  if (fs) return new StartupError(`${where(dataDir)} ${fs}`, 'dataDir', abs, code);
  return e instanceof Error ? e : new Error(String(e));
}

/** Runs `open` (opening the stores in dataDir), turning known failures into StartupErrors. */
export function openInDataDir<T>(dataDir: string, file: string, open: () => T): T {
  try {
    return open();
  } catch (e) {
    throw dataDirError(e, dataDir, file);
  }
}
