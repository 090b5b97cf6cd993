/** The categories (stream kinds) of the Resources layer. Imported by every events.ts so the registry knows them first. */
import { defineCategory } from '../../../schema/registry.ts';

defineCategory('Region', 'resources', 'A region: the largest failure domain; holds zones.');
defineCategory('Zone', 'resources', 'A zone (data centre / availability zone) of one region; holds hosts and networks.');
defineCategory('Names', 'resources', 'Name reservations of one parent scope (regions, the zones of a region, the hosts and networks of a zone): names unique within their parent.');
defineCategory('Host', 'resources', 'A physical host and the XNode slices cut from it: the capacity boundary (sum of slice consumption ≤ capacity).');
defineCategory('Network', 'resources', 'A physical network of a zone or region: bandwidth, public IP pool and switch segments, and the slices cut from them.');
defineCategory('XNetwork', 'resources', 'A virtual network (subnet with DNS, router, load balancer, firewall devices) built on a slice of a Network.');
defineCategory('Image', 'resources', 'An OS image or a host (PXE) image with its checkpoints and branches.');
defineCategory('XImage', 'resources', 'A quota of checkpoints (count and total size) in the image store, held by a contract.');
defineCategory('RContract', 'resources', 'A lease of exact slices (compute, network, image): reserved vs. actual usage.');
defineCategory('Move', 'resources', 'A move or copy of an XNode to another host (across zones or regions): the request and the progress of its process.');
