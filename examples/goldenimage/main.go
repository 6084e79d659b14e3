// Command goldenimage builds a small NixOS-style golden disk image in pure Go (no mkfs
// tools): a GPT disk with fixed GUIDs, a FAT32 EFI system partition holding a boot loader
// stub and its configuration, and a squashfs /nix/store partition with a few files.
//
// The image is bit-for-bit reproducible: every timestamp comes from SOURCE_DATE_EPOCH
// (default 1700000000), every GUID and serial is fixed, files are written in a fixed
// order, owners are 0:0. `-embed-build-time` writes the current time into a store file,
// which makes two builds differ (used by the tests and the demo to show a failure).
//
//	goldenimage -o OUT.raw [-embed-build-time] [-store-label L]
//	goldenimage -out-dir DIR            (writes DIR/nixos.raw)
package main

import (
	"cmp"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"time"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/disk"
	"github.com/diskfs/go-diskfs/filesystem"
	"github.com/diskfs/go-diskfs/filesystem/squashfs"
	"github.com/diskfs/go-diskfs/partition/gpt"
)

// Layout (512-byte sectors).
const (
	sector      = 512
	mib         = 1 << 20
	espStart    = 1 * mib
	espSize     = 40 * mib // FAT32 wants at least 65525 clusters; 40 MiB at 512-byte clusters is plenty
	storeStart  = espStart + espSize
	storeSize   = 8 * mib
	diskSize    = storeStart + storeSize + 1*mib // room for the backup GPT
	defaultSDE  = 1700000000
	diskGUID    = "8B6C3E34-1D1B-4C4E-9C58-0A6F2F7D1A01"
	espGUID     = "8B6C3E34-1D1B-4C4E-9C58-0A6F2F7D1A02"
	storeGUID   = "8B6C3E34-1D1B-4C4E-9C58-0A6F2F7D1A03"
	storeTypeID = "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709" // root-x86-64 in the Discoverable Partitions Spec
)

type file1 struct {
	path string
	data string
	mode os.FileMode
}

var espFiles = []file1{
	{"EFI/BOOT/BOOTX64.EFI", "MZ\x90\x00immutos example boot stub (not a real PE)\n", 0o644},
	{"loader/loader.conf", "timeout 0\ndefault nixos-generation-1.conf\n", 0o644},
	{"loader/entries/nixos-generation-1.conf", "title NixOS\nversion 24.11\nlinux /EFI/nixos/kernel.efi\noptions init=/nix/store/0000000000000000000000000000000a-nixos-system/init\n", 0o644},
	{"EFI/nixos/kernel.efi", "MZ\x90\x00example kernel image\n", 0o644},
}

var storeFiles = []file1{
	{"nix/store/0000000000000000000000000000000a-nixos-system/init", "#!/bin/sh\nexec /nix/store/0000000000000000000000000000000b-systemd/lib/systemd/systemd\n", 0o755},
	{"nix/store/0000000000000000000000000000000a-nixos-system/nixos-version", "24.11.20241201.abcdef0 (Vicuna)\n", 0o644},
	{"nix/store/0000000000000000000000000000000b-systemd/lib/systemd/systemd", "\x7fELF example systemd binary\n", 0o755},
	{"nix/store/0000000000000000000000000000000c-hello-2.12/bin/hello", "\x7fELF example hello binary\n", 0o755},
	{"nix/store/0000000000000000000000000000000c-hello-2.12/share/doc/hello/README", "GNU hello: prints a friendly greeting.\n", 0o644},
	{"etc/os-release", "NAME=NixOS\nID=nixos\nVERSION_ID=\"24.11\"\n", 0o644},
}

func main() {
	out := flag.String("o", "", "write the image to `FILE`")
	outDir := flag.String("out-dir", "", "write the image to `DIR`/nixos.raw")
	embed := flag.Bool("embed-build-time", false, "embed the current time in the store (makes the image non-reproducible)")
	flag.Int64Var(&buildTime, "build-time", 0, "with -embed-build-time: embed `NANOSECONDS` since the epoch instead of the current time (the README's sample uses it)")
	flag.BoolVar(&embedTZ, "embed-tz", false, "write $TZ to /etc/timezone in the store (differs between builders in different time zones)")
	flag.Parse()
	if *out == "" && *outDir != "" {
		*out = filepath.Join(*outDir, "nixos.raw")
	}
	if *out == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: goldenimage -o FILE | -out-dir DIR [-embed-build-time]")
		os.Exit(2)
	}
	if err := build(*out, *embed); err != nil {
		fmt.Fprintf(os.Stderr, "goldenimage: %v\n", err)
		os.Exit(1)
	}
}

var (
	embedTZ   bool
	buildTime int64
)

func sourceDateEpoch() int64 {
	if v, err := strconv.ParseInt(os.Getenv("SOURCE_DATE_EPOCH"), 10, 64); err == nil {
		return v
	}
	return defaultSDE
}

func build(out string, embed bool) error {
	sde := sourceDateEpoch()
	// go-diskfs's FAT writer takes its timestamps from SOURCE_DATE_EPOCH.
	if err := os.Setenv("SOURCE_DATE_EPOCH", strconv.FormatInt(sde, 10)); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	_ = os.Remove(out)
	store, err := buildStore(filepath.Dir(out), sde, embed)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer os.Remove(store)

	d, err := diskfs.Create(out, diskSize, diskfs.SectorSize512)
	if err != nil {
		return err
	}
	closed := false
	defer func() {
		if !closed {
			d.Close()
		}
	}()
	table := &gpt.Table{
		LogicalSectorSize:  sector,
		PhysicalSectorSize: sector,
		ProtectiveMBR:      true,
		GUID:               diskGUID,
		Partitions: []*gpt.Partition{
			{Index: 1, Start: espStart / sector, End: (espStart+espSize)/sector - 1, Type: gpt.EFISystemPartition, Name: "ESP", GUID: espGUID},
			{Index: 2, Start: storeStart / sector, End: (storeStart+storeSize)/sector - 1, Type: gpt.Type(storeTypeID), Name: "nix-store", GUID: storeGUID},
		},
	}
	if err := d.Partition(table); err != nil {
		return fmt.Errorf("partition: %w", err)
	}
	if err := writeESP(d); err != nil {
		return fmt.Errorf("esp: %w", err)
	}
	sf, err := os.Open(store)
	if err != nil {
		return err
	}
	defer sf.Close()
	if _, err := d.WritePartitionContents(2, sf); err != nil {
		return fmt.Errorf("store partition: %w", err)
	}
	closed = true
	return d.Close()
}

func writeESP(d *disk.Disk) error {
	fs, err := d.CreateFilesystem(disk.FilesystemSpec{Partition: 1, FSType: filesystem.TypeFat32, VolumeLabel: "ESP", Reproducible: true})
	if err != nil {
		return err
	}
	for _, f := range espFiles {
		if err := fs.Mkdir(path.Dir(f.path)); err != nil {
			return err
		}
		if err := writeFile(fs, f.path, []byte(f.data)); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(fs filesystem.FileSystem, p string, data []byte) error {
	w, err := fs.OpenFile(p, os.O_CREATE|os.O_RDWR|os.O_TRUNC)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	if _, err := w.Write(data); err != nil {
		w.Close()
		return fmt.Errorf("%s: %w", p, err)
	}
	return w.Close()
}

// buildStore writes a squashfs into a temporary file beside out and returns its path.
func buildStore(dir string, sde int64, embed bool) (string, error) {
	tmp, err := os.CreateTemp(dir, ".store-*.squashfs")
	if err != nil {
		return "", err
	}
	name := tmp.Name()
	tmp.Close()
	bk, err := file.CreateFromPath(name+".img", storeSize)
	if err != nil {
		return "", err
	}
	_ = os.Remove(name)
	name += ".img"
	fs, err := squashfs.Create(bk, storeSize, 0, 4096)
	if err != nil {
		return "", err
	}
	// go-diskfs stages the files in a directory under $TMPDIR and leaves it.
	defer os.RemoveAll(fs.Workspace())
	files := storeFiles
	if embed {
		files = append(append([]file1(nil), files...), file1{
			"nix/store/0000000000000000000000000000000a-nixos-system/build-time",
			strconv.FormatInt(cmp.Or(buildTime, time.Now().UnixNano()), 10) + "\n", 0o644,
		})
	}
	if embedTZ {
		files = append(append([]file1(nil), files...), file1{"etc/timezone", os.Getenv("TZ") + "\n", 0o644})
	}
	for _, f := range files {
		if err := fs.Mkdir(path.Dir(f.path)); err != nil {
			return "", err
		}
		if err := writeFile(fs, f.path, []byte(f.data)); err != nil {
			return "", err
		}
	}
	// Fix every mode and time in the workspace: Finalize takes them from there.
	ws := fs.Workspace()
	mtime := time.Unix(sde, 0)
	modes := map[string]os.FileMode{}
	for _, f := range files {
		modes[filepath.FromSlash(f.path)] = f.mode
	}
	err = filepath.Walk(ws, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(ws, p)
		mode := os.FileMode(0o755)
		if m, ok := modes[rel]; ok {
			mode = m
		}
		if err := os.Chmod(p, mode); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	// Times last: chmod does not touch mtime, but creating entries touched the directories.
	err = filepath.Walk(ws, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chtimes(p, mtime, mtime)
	})
	if err != nil {
		return "", err
	}
	zero := uint32(0)
	if err := fs.Finalize(squashfs.FinalizeOptions{FileUID: &zero, FileGID: &zero, Compression: &squashfs.CompressorGzip{}}); err != nil {
		return "", err
	}
	if err := bk.Close(); err != nil {
		return "", err
	}
	// go-diskfs stamps the superblock with time.Now(): set mkfs_time (offset 8) like
	// mksquashfs -mkfs-time $SOURCE_DATE_EPOCH does.
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var sb [12]byte
	if _, err := io.ReadFull(f, sb[:]); err != nil {
		return "", err
	}
	if string(sb[:4]) != "hsqs" {
		return "", errors.New("squashfs superblock magic not found")
	}
	binary.LittleEndian.PutUint32(sb[8:12], uint32(sde))
	if _, err := f.WriteAt(sb[8:12], 8); err != nil {
		return "", err
	}
	return name, f.Close()
}
