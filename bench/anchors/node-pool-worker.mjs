// Worker of node-pool.mjs: squares what it is sent.
process.on('message', (x) => process.send(x * x));
process.on('disconnect', () => process.exit(0));
process.send('ready');
