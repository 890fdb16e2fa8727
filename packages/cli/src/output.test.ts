import { describe, expect, it } from 'vitest';
import { createOutput } from './output.js';

function capture() {
  const written = { out: '', err: '' };
  const output = createOutput({
    writeOut: (text) => {
      written.out += text;
    },
    writeErr: (text) => {
      written.err += text;
    },
  });
  return { output, written };
}

describe('createOutput', () => {
  it('masks the password of every URL, on stdout, in JSON and on stderr', () => {
    const { output, written } = capture();
    output.result('Database postgres://app:hunter22@db/orders: ok');
    output.json({ database: 'postgres://app:hunter22@db/orders' });
    output.log('failed: postgresql://app:hunter22@db/orders');
    expect(written.out).toBe(
      'Database postgres://app:***@db/orders: ok\n{\n  "database": "postgres://app:***@db/orders"\n}\n',
    );
    expect(written.err).toBe('failed: postgresql://app:***@db/orders\n');
  });

  it('masks a registered secret wherever it appears, also percent-decoded', () => {
    const { output, written } = capture();
    output.addSecret('p%40ss-word');
    output.log('host=db user=app password=p@ss-word dbname=orders');
    output.write('out', 'echo p%40ss-word');
    expect(written.err).toBe('host=db user=app password=*** dbname=orders\n');
    expect(written.out).toBe('echo ***');
  });

  it('does not replace very short secrets literally, which would garble the output', () => {
    const { output, written } = capture();
    output.addSecret('ab');
    output.log('about postgres://u:ab@h/db');
    expect(written.err).toBe('about postgres://u:***@h/db\n');
  });
});
