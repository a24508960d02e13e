# The plot of bench/server_report.py: grouped bars per target, message
# throughput on the left, request/reply latency on the right.
# usage: gnuplot -e "tput='T.dat'; lat='L.dat'; outfile='OUT.png'" bench/plot.gp
# (each .dat: a header line "case col col col", then "\"label\" v1 v2 v3")
set terminal pngcairo size 1200,480 font "sans,10" noenhanced
set output outfile
set multiplot layout 1,2 title "shortbusd vs nats-server on one shared 2-core machine (same run; pending columns are 0)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set key top right autotitle columnheader
set yrange [0:*]
set grid ytics
set xtics rotate by -25 scale 0
set title "throughput, best of the repetitions (higher is better)"
set ylabel "M msgs/s"
plot tput using 2:xtic(1) lc rgb "#4c72b0", '' using 3 lc rgb "#dd8452", '' using 4 lc rgb "#55a868"
set title "request/reply latency, 128 B, median of the repetitions (lower is better)"
set ylabel "microseconds"
set key top left
plot lat using 2:xtic(1) lc rgb "#4c72b0", '' using 3 lc rgb "#dd8452", '' using 4 lc rgb "#55a868"
unset multiplot
