#!/usr/bin/perl
# reference_flamegraph.pl: a baseline for scripts/bench/flamegraph.sh. flamegraph.pl is not
# packaged in Debian, so this is our own short Perl rendition of its core algorithm, written for
# this benchmark: read all lines, sort them, walk adjacent stacks to find where each frame starts
# and ends ("flow"), then emit one escaped, coloured <g><title/><rect/><text/></g> per frame wider
# than minwidth. It skips flamegraph.pl's extra work (option handling, palettes, JS, label
# fitting), so it is a lower bound on flamegraph.pl's time, not a stand-in for its output.
# usage: reference_flamegraph.pl [--width PX] [--minwidth PX] < in.folded > out.svg
use strict;
use warnings;

my ($width, $minwidth) = (1200, 0.1);
while (@ARGV) {
	my $a = shift @ARGV;
	if ($a eq '--width') { $width = shift @ARGV; }
	elsif ($a eq '--minwidth') { $minwidth = shift @ARGV; }
}

my (%start, %frames, @last);
my $time = 0;

sub flow {
	my ($last, $this, $v) = @_;
	my $common = 0;
	my $n = @$last < @$this ? scalar(@$last) : scalar(@$this);
	$common++ while $common < $n && $last->[$common] eq $this->[$common];
	for (my $i = $#$last; $i >= $common; $i--) {
		my $k = "$last->[$i];$i";
		$frames{"$k;$start{$k}"} = $v;
		delete $start{$k};
	}
	for (my $i = $common; $i <= $#$this; $i++) {
		$start{"$this->[$i];$i"} = $v;
	}
}

my @lines = <STDIN>;
for my $line (sort @lines) {
	chomp $line;
	my ($stack, $samples) = $line =~ /^(.*)\s+?(\d+(?:\.\d*)?)$/ or next;
	my @this = ('', split(/;/, $stack));
	flow(\@last, \@this, $time);
	$time += $samples;
	@last = @this;
}
flow(\@last, [], $time);
die "no stacks\n" unless $time;

my $xpad = 10;
my $per = ($width - 2 * $xpad) / $time;
my (@out, $maxdepth);
$maxdepth = 0;
while (my ($id, $end) = each %frames) {
	my ($func, $depth, $st) = $id =~ /^(.*);(\d+);([\d.]+)$/;
	my $w = ($end - $st) * $per;
	next if $w < $minwidth;
	$maxdepth = $depth if $depth > $maxdepth;
	push @out, [$func, $depth, $st, $end];
}
my $height = ($maxdepth + 1) * 16 + 60;
print qq{<?xml version="1.0" standalone="no"?>\n};
print qq{<svg version="1.1" width="$width" height="$height" xmlns="http://www.w3.org/2000/svg">\n};
for my $f (@out) {
	my ($func, $depth, $st, $end) = @$f;
	my $name = $func eq '' ? 'all' : $func;
	my $samples = $end - $st;
	my $pct = sprintf("%.2f", 100 * $samples / $time);
	my $x1 = sprintf("%.1f", $xpad + $st * $per);
	my $w = sprintf("%.1f", $samples * $per);
	my $y = $height - 30 - ($depth + 1) * 16;
	my $h = unpack("%32C*", $name);
	my ($r, $g, $b) = (205 + $h % 50, ($h * 7) % 230, ($h * 13) % 55);
	my $chars = int(($w - 6) / 7);
	my $label = $chars < 3 ? '' : length($name) <= $chars ? $name : substr($name, 0, $chars - 2) . '..';
	my $esc = $name;
	for ($esc, $label) {
		s/&/&amp;/g;
		s/</&lt;/g;
		s/>/&gt;/g;
		s/"/&quot;/g;
	}
	print qq{<g><title>$esc ($samples samples, $pct%)</title>},
		qq{<rect x="$x1" y="$y" width="$w" height="15" fill="rgb($r,$g,$b)"/>},
		qq{<text x="}, $x1 + 3, qq{" y="}, $y + 11, qq{">$label</text></g>\n};
}
print "</svg>\n";
