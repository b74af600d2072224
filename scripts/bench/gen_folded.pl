#!/usr/bin/perl
# gen_folded.pl LINES SEED: writes a synthetic folded-stack profile to stdout, shaped like a real
# service: stacks 2..50 frames deep that share long prefixes (a call graph, not random noise),
# ~10% ending in kernel frames (_[k]), some inlined frames (_[i]), counts from 1 to ~1000, lines
# shuffled so the input is not pre-sorted. Deterministic for a given seed.
use strict;
use warnings;
use List::Util qw(shuffle);

my ($lines, $seed) = @ARGV;
$lines //= 200000;
$seed //= 42;
srand($seed);

my @words = qw(http request handler parse json buffer cache lookup insert evict session worker
	queue dispatch read write poll epoll socket accept connect encode decode compress hash table
	alloc free string vector map tree node index query plan exec scan filter sort merge join
	lock unlock wait signal timer event loop task thread pool flush sync commit log);
my @funcs;
for my $i (0 .. 3999) {
	my $a = $words[int(rand(@words))];
	my $b = $words[int(rand(@words))];
	push @funcs, sprintf("%s%s_%d", $a, substr($b, 0, 1), $i);
}
my @kfuncs = map { "k_" . $words[$_ % @words] . "_$_" . "_[k]" } 0 .. 199;

my @recent = (["main", "run_server"]);
my %seen;
my @out;
while (@out < $lines) {
	my $base = $recent[int(rand(@recent))];
	# Diverge from a recently seen stack a few frames above its leaf and grow a short new tail,
	# as sibling call paths of one program do; now and then start a fresh deep path.
	my $keep = @$base - 1 - int(rand(6));
	my $depth = $keep + 1 + int(rand(6));
	if (rand() < 0.01) {
		$keep = 2;
		$depth = 2 + int(rand(49));
	}
	$keep = 1 if $keep < 1;
	$depth = 50 if $depth > 50;
	$depth = 2 if $depth < 2;
	$keep = $depth - 1 if $keep > $depth - 1;
	my @stack = @{$base}[0 .. $keep - 1];
	my $kernel = rand() < 0.1 ? 1 + int(rand(4)) : 0;
	while (@stack < $depth - $kernel) {
		my $f = $funcs[int(rand(@funcs))];
		$f .= "_[i]" if rand() < 0.03;
		push @stack, $f;
	}
	push @stack, $kfuncs[int(rand(@kfuncs))] while @stack < $depth;
	my $key = join(";", @stack);
	next if $seen{$key}++;
	push @out, $key . " " . (1 + int(rand(1000) ** 2 / 1000));
	push @recent, \@stack;
	shift @recent if @recent > 256;
}
print "$_\n" for shuffle(@out);
