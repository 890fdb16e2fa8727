import { maskSecrets } from '@converge/core';

/** Where the command writes; `process.stdout`/`process.stderr` in `main.ts`, buffers in tests. */
export interface OutputStreams {
  writeOut(text: string): void;
  writeErr(text: string): void;
}

/**
 * Everything the command prints goes through here, so that no secret reaches the terminal or a
 * CI log: each text passes through `maskSecrets` (passwords in URLs) and then has every secret
 * registered with `addSecret` replaced by `***` (the password of the database URL in use, in
 * case a driver echoes it in a form `maskSecrets` does not recognise).
 */
export interface Output {
  /** Writes one line (a newline is added) of the command's result on stdout. */
  result(text: string): void;
  /** Writes `value` as JSON on stdout, the only thing a `--json` run prints there. */
  json(value: unknown): void;
  /** Writes one line (a newline is added) of progress or diagnostics on stderr. */
  log(text: string): void;
  /** Writes raw text on stdout or stderr, masked; for commander's own help and errors. */
  write(stream: 'out' | 'err', text: string): void;
  /** From now on, replaces `secret` wherever it appears in printed text. */
  addSecret(secret: string): void;
  /** `text` with every known secret masked. */
  redact(text: string): string;
}

/**
 * Secrets shorter than this are not replaced literally (masking every "ab" would garble the output);
 * `maskSecrets` still masks them inside URLs.
 */
const MIN_LITERAL_SECRET_LENGTH = 4;

/**
 * Creates the output of one run of the command.
 *
 * @example const output = createOutput({ writeOut: (t) => process.stdout.write(t), writeErr: (t) => process.stderr.write(t) });
 */
export function createOutput(streams: OutputStreams): Output {
  const secrets = new Set<string>();
  const redact = (text: string): string => {
    let masked = maskSecrets(text);
    for (const secret of secrets) masked = masked.split(secret).join('***');
    return masked;
  };
  const write = (stream: 'out' | 'err', text: string): void => {
    if (stream === 'out') streams.writeOut(redact(text));
    else streams.writeErr(redact(text));
  };
  return Object.freeze({
    result: (text: string) => write('out', `${text}\n`),
    json: (value: unknown) => write('out', `${JSON.stringify(value, null, 2)}\n`),
    log: (text: string) => write('err', `${text}\n`),
    write,
    addSecret(secret: string): void {
      if (secret.length < MIN_LITERAL_SECRET_LENGTH) return;
      secrets.add(secret);
      const decoded = safeDecode(secret);
      if (decoded.length >= MIN_LITERAL_SECRET_LENGTH) secrets.add(decoded);
    },
    redact,
  });
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
