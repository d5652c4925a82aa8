#!/usr/bin/env node
// A second RTSP server implementation for lvu's tests: npm's rtsp-streaming-server (UDP only, RTP relayed from a
// publisher that ANNOUNCEs, such as the ffmpeg CLI). Clients read rtsp://127.0.0.1:CLIENT_PORT/MOUNT, publishers
// write rtsp://127.0.0.1:PUBLISH_PORT/MOUNT. Prints "READY" on stdout when it listens.
//   node tools/rtsp/streaming-server.mjs --client-port 6554 --publish-port 5554 --rtp-port 20000
import { parseArgs } from 'node:util';
import RtspServerModule from 'rtsp-streaming-server';

const RtspServer = RtspServerModule.default ?? RtspServerModule;
const { values } = parseArgs({
  options: {
    'client-port': { type: 'string', default: '6554' },
    'publish-port': { type: 'string', default: '5554' },
    'rtp-port': { type: 'string', default: '20000' },
  },
});
const server = new RtspServer({
  serverPort: Number(values['publish-port']),
  clientPort: Number(values['client-port']),
  rtpPortStart: Number(values['rtp-port']),
  rtpPortCount: 200,
});
await server.start();
process.stdout.write('READY\n');
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
