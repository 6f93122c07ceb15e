package nodeimage_test

import (
	"fmt"

	"github.com/fleetkit/fleetkit/nodeimage"
)

func ExampleResolveConsistent() {
	catalog, err := nodeimage.NewCatalog(map[string][]string{
		"eastus":     {"AKSUbuntu-2204gen2containerd-202405.20.0", "AKSUbuntu-2204gen2containerd-202405.27.0"},
		"westeurope": {"AKSUbuntu-2204gen2containerd-202405.13.0", "AKSUbuntu-2204gen2containerd-202405.20.0"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	current, _ := nodeimage.Parse("AKSUbuntu-2204gen2containerd-202404.09.0")
	sel, unresolved := nodeimage.ResolveConsistent(catalog, []nodeimage.Pool{
		{Member: "prod-1", Name: "system", Region: "eastus", Image: current},
		{Member: "prod-2", Name: "system", Region: "westeurope", Image: current},
	})
	fmt.Println(sel, len(unresolved))

	latest, _ := nodeimage.ResolveLatest(catalog, "eastus", "AKSUbuntu-2204gen2containerd")
	fmt.Println(latest)
	// Output:
	// [AKSUbuntu-2204gen2containerd-202405.20.0] 0
	// AKSUbuntu-2204gen2containerd-202405.27.0
}

func ExampleParse() {
	img, err := nodeimage.Parse("AKSWindows-2022-containerd-20348.3207.250214")
	fmt.Println(img.Family, img.Version, err)

	legacy, _ := nodeimage.Parse("AKSUbuntu-2204gen2containerd-2023.03.28")
	current, _ := nodeimage.Parse("AKSUbuntu-2204gen2containerd-202303.13.0")
	order, err := legacy.Compare(current)
	fmt.Println(order, err)
	// Output:
	// AKSWindows-2022-containerd 20348.3207.250214 <nil>
	// 1 <nil>
}

func ExampleDecide() {
	catalog, _ := nodeimage.NewCatalog(map[string][]string{"australiaeast": {"AKSAzureLinux-V2gen2-202502.12.0"}})
	current, _ := nodeimage.Parse("AKSAzureLinux-V2gen2-202502.12.0")
	target, _ := nodeimage.Parse("AKSAzureLinux-V2gen2-202502.26.0")
	pool := nodeimage.Pool{Member: "m1", Name: "pool", Region: "australiaeast", Image: current}
	d := nodeimage.Decide(catalog, pool, target)
	fmt.Println(d.Action, "—", d.Message)
	// Output:
	// NotInRegion — target upgrade node image version "AKSAzureLinux-V2gen2-202502.26.0" for agent pool "pool" is not available in region "australiaeast"
}
