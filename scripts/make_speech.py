#!/usr/bin/env python3
"""Make a speech test set with espeak-ng: each file is a few Harvard
sentences (IEEE 1969, public domain) with its reference transcript beside it.

    python3 scripts/make_speech.py OUT_DIR [--files 10] [--long-minutes 0]

Writes OUT_DIR/harvardNN.wav (16 kHz mono) + harvardNN.txt. With
--long-minutes M it also writes long.wav: the sentences repeated with pauses
for M minutes (for the ingest benchmark) and long.txt.
"""
import argparse
import os
import subprocess

HARVARD = [
    "The birch canoe slid on the smooth planks.", "Glue the sheet to the dark blue background.",
    "It's easy to tell the depth of a well.", "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.", "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.", "The hogs were fed chopped corn and garbage.",
    "Four hours of steady work faced us.", "A large size in stockings is hard to sell.",
    "The boy was there when the sun rose.", "A rod is used to catch pink salmon.",
    "The source of the huge river is the clear spring.", "Kick the ball straight and follow through.",
    "Help the woman get back to her feet.", "A pot of tea helps to pass the evening.",
    "Smoky fires lack flame and heat.", "The soft cushion broke the man's fall.",
    "The salt breeze came across from the sea.", "The girl at the booth sold fifty bonds.",
    "The small pup gnawed a hole in the sock.", "The fish twisted and turned on the bent hook.",
    "Press the pants and sew a button on the vest.", "The swan dive was far short of perfect.",
    "The beauty of the view stunned the young boy.", "Two blue fish swam in the tank.",
    "Her purse was full of useless trash.", "The colt reared and threw the tall rider.",
    "It snowed, rained, and hailed the same morning.", "Read verse out loud for pleasure.",
    "Hoist the load to your left shoulder.", "Take the winding path to reach the lake.",
    "Note closely the size of the gas tank.", "Wipe the grease off his dirty face.",
    "Mend the coat before you go out.", "The wrist was badly strained and hung limp.",
    "The stray cat gave birth to kittens.", "The young girl gave no clear response.",
    "The meal was cooked before the bell rang.", "What joy there is in living.",
]


def speak(text, out_wav):
    tmp = out_wav + ".tmp.wav"
    subprocess.run(["espeak-ng", "-s", "150", "-w", tmp, text], check=True)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", tmp, "-ar", "16000", "-ac", "1", "-c:a", "pcm_s16le", out_wav], check=True)
    os.remove(tmp)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--files", type=int, default=10)
    ap.add_argument("--long-minutes", type=float, default=0)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    per = len(HARVARD) // a.files
    for i in range(a.files):
        text = " ".join(HARVARD[i * per:(i + 1) * per])
        speak(text, os.path.join(a.out, f"harvard{i:02d}.wav"))
        with open(os.path.join(a.out, f"harvard{i:02d}.txt"), "w") as f:
            f.write(text + "\n")
    if a.long_minutes > 0:
        one = os.path.join(a.out, "all.wav")
        speak(" ".join(HARVARD), one)
        dur = float(subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", one],
                                   capture_output=True, text=True, check=True).stdout)
        reps = max(1, int(a.long_minutes * 60 // (dur + 1)))
        lst = os.path.join(a.out, "long.list")
        with open(lst, "w") as f:
            f.write(f"file '{os.path.abspath(one)}'\n" * reps)
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", lst, "-c", "copy",
                        os.path.join(a.out, "long.wav")], check=True)
        os.remove(lst)
        os.rename(one, os.path.join(a.out, "all.wav.part"))
        os.remove(os.path.join(a.out, "all.wav.part"))
        with open(os.path.join(a.out, "long.txt"), "w") as f:
            f.write((" ".join(HARVARD) + " ") * reps + "\n")


if __name__ == "__main__":
    main()
