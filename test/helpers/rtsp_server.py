#!/usr/bin/python3
"""Minimal GstRtspServer used by Vigil's tests (binds 127.0.0.1 only).

Synthetic mode (default): live videotestsrc (moving ball + time overlay) -> x264 -> RTP.
File mode (--file PATH [--loop]): the file's H.264 video track is decoded in real time by a
separate "producer" pipeline into an intervideosink; each RTSP media reads it back with
intervideosrc and re-encodes it. intervideosrc is live and timestamps its own output, so
timestamps keep increasing across loops (and the last frame repeats after EOS without --loop).
Output is always scaled to --width x --height at --fps.

Prints exactly one line "READY rtsp://127.0.0.1:PORT/MOUNT" (first mount) once listening.
Exits 0 on SIGTERM/SIGINT; exits 2 if the port cannot be bound or the file cannot be played.
"""
import argparse
import ctypes
import os
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
gi.require_version("GstVideo", "1.0")
from gi.repository import GLib, Gst, GstRtspServer, GstVideo  # noqa: E402

HOST = "127.0.0.1"


def die_with_parent() -> None:
    """Ask Linux to SIGTERM us if the spawning process dies (best effort)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
        if os.getppid() == 1:
            sys.exit(0)
    except OSError:
        pass


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--mount", action="append", default=None, help="repeatable; default /test")
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=360)
    p.add_argument("--fps", type=int, default=15)
    p.add_argument("--file", default=None, help="mp4 (H.264) file to serve in real time")
    p.add_argument("--loop", action="store_true", help="loop --file forever")
    p.add_argument("--die-with-parent", action="store_true", help="exit when the spawning process dies")
    a = p.parse_args()
    a.mount = [m if m.startswith("/") else "/" + m for m in (a.mount or ["/test"])]
    return a


def main() -> int:
    args = parse_args()
    if args.die_with_parent:
        die_with_parent()
    Gst.init(None)
    loop = GLib.MainLoop()
    raw_caps = f"video/x-raw,format=I420,width={args.width},height={args.height},framerate={args.fps}/1"
    encode = (
        f"videoconvert ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={args.fps} "
        f"threads=1 bitrate=1500 ! video/x-h264,profile=baseline ! rtph264pay name=pay0 pt=96 config-interval=-1"
    )

    producer = None
    if args.file:
        if not os.path.isfile(args.file):
            print(f"rtsp_server.py: no such file: {args.file}", file=sys.stderr)
            return 2
        channel = f"vigil-{os.getpid()}"
        producer = Gst.parse_launch(
            f'filesrc location="{args.file}" ! qtdemux name=d d.video_0 ! queue ! h264parse ! '
            f"decodebin ! videoconvert ! videoscale ! videorate ! {raw_caps} ! "
            f"intervideosink channel={channel} sync=true"
        )

        def on_producer_msg(_bus, msg):
            if msg.type == Gst.MessageType.EOS and args.loop:
                producer.seek_simple(Gst.Format.TIME, Gst.SeekFlags.FLUSH | Gst.SeekFlags.KEY_UNIT, 0)
            elif msg.type == Gst.MessageType.ERROR:
                err, dbg = msg.parse_error()
                print(f"rtsp_server.py: producer error: {err.message} ({dbg})", file=sys.stderr)
                loop.quit()
            return True

        bus = producer.get_bus()
        bus.add_signal_watch()
        bus.connect("message", on_producer_msg)
        producer.set_state(Gst.State.PLAYING)
        ret, _, _ = producer.get_state(10 * Gst.SECOND)  # preroll: first frame reached the sink
        if ret == Gst.StateChangeReturn.FAILURE:
            print(f"rtsp_server.py: cannot play {args.file}", file=sys.stderr)
            return 2
        source = f"intervideosrc channel={channel} ! {raw_caps}"
    else:
        source = (
            f"videotestsrc is-live=true pattern=ball animation-mode=running-time ! {raw_caps} ! "
            f"timeoverlay font-desc=\"Sans 24\""
        )

    server = GstRtspServer.RTSPServer()
    server.set_address(HOST)
    server.set_service(str(args.port))
    mounts = server.get_mount_points()
    payloaders = []  # pay0 of every live media, to force a keyframe when a client starts playing

    def on_media_configure(_factory, media):
        pay = media.get_element().get_by_name("pay0")
        payloaders.append(pay)
        media.connect("unprepared", lambda _m: payloaders.remove(pay) if pay in payloaders else None)

    for mount in args.mount:
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(f"( {source} ! {encode} )")
        factory.set_shared(True)
        factory.connect("media-configure", on_media_configure)
        mounts.add_factory(mount, factory)

    def force_keyframes():
        for pay in list(payloaders):
            event = GstVideo.video_event_new_upstream_force_key_unit(Gst.CLOCK_TIME_NONE, True, 0)
            pay.get_static_pad("src").send_event(event)
        return GLib.SOURCE_REMOVE

    def on_client(_server, client):
        # A client joining a shared stream mid-GOP would otherwise wait up to a second for an IDR.
        client.connect("play-request", lambda _c, _ctx: GLib.timeout_add(50, force_keyframes))

    server.connect("client-connected", on_client)

    if server.attach(None) == 0:
        print(f"rtsp_server.py: cannot listen on {HOST}:{args.port}", file=sys.stderr)
        if producer is not None:
            producer.set_state(Gst.State.NULL)
        return 2

    def on_signal():
        loop.quit()
        return GLib.SOURCE_REMOVE

    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, on_signal)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, on_signal)

    print(f"READY rtsp://{HOST}:{server.get_bound_port()}{args.mount[0]}", flush=True)
    try:
        loop.run()
    finally:
        if producer is not None:
            producer.set_state(Gst.State.NULL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
