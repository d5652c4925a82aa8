#!/usr/bin/python3
"""A real RTSP server for lvu's tests (Debian's gst-rtsp-server through python3-gi).

Serves rtsp://127.0.0.1:PORT/stream:
  --file F      a video file of any container and codec GStreamer decodes (opencv-doc's vtest.avi, MPEG-TS, MP4),
                looped forever and re-encoded with x264, paced like a camera, or
  (default)     a live test pattern (videotestsrc, a moving ball) encoded with x264.
--user/--password require RTSP basic authentication. Prints "READY <url>" on stdout when it accepts clients.
Run with Debian's python3 (/usr/bin/python3), which has the gi bindings.
"""
import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def loop_at_eos(_factory, media):
    """A file served as a camera: its end is not the stream's end; the pipeline seeks back to the start."""
    pipeline = media.get_element()
    conv = pipeline.get_by_name("conv")

    def restart():
        pipeline.seek_simple(Gst.Format.TIME, Gst.SeekFlags.FLUSH | Gst.SeekFlags.KEY_UNIT, 0)
        return False

    def probe(_pad, info):
        event = info.get_event()
        if event is not None and event.type == Gst.EventType.EOS:
            GLib.idle_add(restart)
            return Gst.PadProbeReturn.DROP
        return Gst.PadProbeReturn.OK

    conv.get_static_pad("sink").add_probe(Gst.PadProbeType.EVENT_DOWNSTREAM, probe)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8554)
    ap.add_argument("--file")
    ap.add_argument("--fps", type=int, default=10)
    ap.add_argument("--key-int", type=int, help="frames between key frames (default: one a second)")
    ap.add_argument("--width", type=int, default=320)
    ap.add_argument("--height", type=int, default=240)
    ap.add_argument("--user")
    ap.add_argument("--password")
    a = ap.parse_args()
    Gst.init(None)
    enc = (f"x264enc tune=zerolatency speed-preset=ultrafast key-int-max={a.key_int or a.fps} bitrate=500 ! "
           "video/x-h264,profile=baseline ! rtph264pay name=pay0 pt=96 config-interval=1")
    if a.file:
        # any container and codec GStreamer decodes (vtest.avi, MPEG-TS, MP4…); looped by a seek back to the start
        # at its end (see loop_at_eos), paced to the clock like a camera
        src = (f"filesrc location={a.file} ! decodebin ! videoconvert name=conv ! videoscale ! videorate ! "
               f"video/x-raw,format=I420,framerate={a.fps}/1 ! clocksync ! ")
    else:
        src = (f"videotestsrc is-live=true pattern=ball ! "
               f"video/x-raw,width={a.width},height={a.height},framerate={a.fps}/1 ! ")
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(a.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(f"( {src}{enc} )")
    factory.set_shared(True)
    if a.file:
        factory.connect("media-configure", loop_at_eos)
    if a.user:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", a.user)
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(a.user, a.password or ""), token)
        server.set_auth(auth)
        factory.add_role_from_structure(Gst.Structure.new_from_string(
            f"{a.user}, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"))
    server.get_mount_points().add_factory("/stream", factory)
    if server.attach(None) == 0:
        print(f"ERROR cannot listen on 127.0.0.1:{a.port}", flush=True)
        sys.exit(1)
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
    print(f"READY rtsp://127.0.0.1:{a.port}/stream", flush=True)
    loop.run()


if __name__ == "__main__":
    main()
