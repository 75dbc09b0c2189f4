#!/bin/bash
# usage: sweep.sh PART(val|test) DRIVE(face|speech) TAG RUNARGS...
# writes work/<tag>_<part>_<drive>/ and work/<tag>_<part>_<drive>.json
set -e
cd /work/research/frames/work
source /work/venv/bin/activate
export SKETCHSYNTH_CACHE=/work/research/frames/work/cache PYTHONPATH=/work/proto:/work/research/frames
part=$1; drive=$2; tag=$3; shift 3
extra=""; [ "$drive" = speech ] && extra="--drive audio"
out=${tag}_${part}_${drive}
/usr/bin/time -f "%e s wall" nice -n 10 python ../run.py "$@" -- cnn2_$part.mp4 $extra --db db_cnn2 --out $out --force > $out.log 2>&1
nice -n 10 python ../measure.py $out --real cnn2_$part.mp4 --db-video db_rec/cnn2_db.mp4 --db db_cnn2 --json $out.json | cut -c1-260
