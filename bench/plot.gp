# Grouped bars of bench/server_report.py: throughput per case and target.
# usage: gnuplot -e "datafile='X.dat'; outfile='Y.png'" bench/plot.gp
set terminal pngcairo size 1100,500 font "sans,10" noenhanced
set output outfile
set title "shortbusd vs nats-server: throughput on one 2-core machine (M msgs/s, higher is better)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set key top right autotitle columnheader
set ylabel "M msgs/s (round trips/s for reqrep)"
set yrange [0:*]
set grid ytics
set xtics rotate by -20 scale 0
plot datafile using 2:xtic(1) lc rgb "#4c72b0", '' using 3 lc rgb "#dd8452", '' using 4 lc rgb "#55a868"
