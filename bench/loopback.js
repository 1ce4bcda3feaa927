// Preloaded into kinesalite (node -r) by bench/run: kinesalite's CLI listens
// on every interface and has no --host flag; the benchmark keeps everything
// on 127.0.0.1, so a listen(port, cb) call is turned into a loopback listen.
'use strict';
const net = require('net');

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' || /^\d+$/.test(String(args[0]))) {
    const callback = typeof args[args.length - 1] === 'function' ? args.pop() : undefined;
    return listen.call(this, { port: Number(args[0]), host: '127.0.0.1' }, callback);
  }
  return listen.apply(this, args);
};
