# nix build -f default.nix image   (or nondeterministic)
{ system ? builtins.currentSystem }:
let
  tools = import ./tools.nix;
  mk = name: embedTime: derivation ({
    inherit name embedTime system;
    builder = "/bin/sh";
    args = [ ./build.sh ];
  } // tools);
in {
  image = mk "golden-image" "";
  nondeterministic = mk "golden-image-nd" "1";
}
