{
  description = "immutos-verify test images (no nixpkgs: the host's mkfs tools)";
  outputs = { self }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAll = f: builtins.listToAttrs (map (system: { name = system; value = f system; }) systems);
    in {
      packages = forAll (system: import ./default.nix { inherit system; });
    };
}
