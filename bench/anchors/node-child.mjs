// Child side of node-ipc.mjs. One module for every case, so that each case pays
// the same module-load cost; the mode is argv[2], a count (if any) argv[3].
const mode = process.argv[2];
const n = Number(process.argv[3] ?? 0);

// If the parent dies (or its safety timer fires) the channel closes: leave at once
// rather than linger as an orphan.
process.on('disconnect', () => process.exit(0));

switch (mode) {
  case 'ready':
    break;
  case 'count': {
    let seen = 0;
    process.on('message', () => {
      if (++seen === n) process.send('done');
    });
    break;
  }
  case 'echo':
    process.on('message', (m) => process.send(m));
    break;
  case 'bytes': {
    let seen = 0;
    let bytes = 0;
    process.on('message', (buf) => {
      bytes += buf.byteLength;
      if (++seen === n) process.send(bytes);
    });
    break;
  }
  default:
    console.error(`node-child: unknown mode ${mode}`);
    process.exit(2);
}
// Every mode announces itself, so the parent can start its clock once the child is up.
process.send('ready');
