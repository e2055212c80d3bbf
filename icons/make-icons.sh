#!/usr/bin/env bash
# Draws the MedHarmony Desk icon (a teal rounded square with a calendar page
# and a medical cross) with ImageMagick and writes the sizes Tauri needs as
# 8-bit RGBA PNGs. Run from anywhere: bash icons/make-icons.sh
set -euo pipefail
cd "$(dirname "$0")"
master=$(mktemp --suffix=.png)
trap 'rm -f "$master"' EXIT
convert -size 1024x1024 xc:none \
  -fill '#0B6E75' -draw 'roundrectangle 40,40 984,984 210,210' \
  -fill '#0E8A93' -draw 'roundrectangle 40,40 984,900 210,210' \
  -fill '#FFFFFF' -draw 'roundrectangle 220,270 804,850 70,70' \
  -fill '#CDEFEC' -draw 'roundrectangle 220,270 804,430 70,70' \
  -fill '#CDEFEC' -draw 'rectangle 220,380 804,430' \
  -fill '#0B6E75' -draw 'roundrectangle 340,200 400,350 30,30' \
  -fill '#0B6E75' -draw 'roundrectangle 624,200 684,350 30,30' \
  -fill '#D64545' -draw 'roundrectangle 457,500 567,790 18,18' \
  -fill '#D64545' -draw 'roundrectangle 367,590 657,700 18,18' \
  "PNG32:$master"
for s in 32 64 128 256; do convert "$master" -filter Lanczos -resize ${s}x${s} "PNG32:${s}x${s}.png"; done
convert "$master" -filter Lanczos -resize 256x256 "PNG32:128x128@2x.png"
convert "$master" -filter Lanczos -resize 512x512 "PNG32:icon.png"
rm -f 64x64.png 256x256.png
