using System.Text;
using Yarp.ReverseProxy.LoadBalancing;
using Yarp.ReverseProxy.Model;

namespace Eurus.Gateway;

/// <summary>
/// YARP load balancing by conversation: rendezvous (highest-random-weight) hashing of the conversation key over every
/// replica of the cluster, healthy or not, so a conversation always maps to the same replica and adding or removing
/// one moves only the conversations that hash to it. When that replica is not available (its health checks fail), the
/// least busy available replica serves the request (fewest requests in flight through this gateway; ties by rank). A
/// request without a key (GET /v1/models …) goes to the least busy replica.
/// </summary>
internal sealed class ConversationAffinityPolicy : ILoadBalancingPolicy
{
    public const string PolicyName = "ConversationAffinity";

    public string Name => PolicyName;

    public DestinationState? PickDestination(HttpContext context, ClusterState cluster, IReadOnlyList<DestinationState> availableDestinations)
    {
        if (availableDestinations.Count == 0) return null;
        string? key = ConversationKey.Of(context);
        DestinationState? best = null;
        if (key is not null)
        {
            // The owner among all replicas, available or not.
            ulong top = 0;
            foreach (var d in cluster.Destinations.Values)
            {
                ulong w = Weight(key, d.DestinationId);
                if (best is null || w > top) { best = d; top = w; }
            }
            foreach (var d in availableDestinations)
                if (ReferenceEquals(d, best)) return Chosen(context, d, affinity: true);
        }
        DestinationState? least = null;
        foreach (var d in availableDestinations)
            if (least is null || d.ConcurrentRequestCount < least.ConcurrentRequestCount
                || d.ConcurrentRequestCount == least.ConcurrentRequestCount && key is not null && Weight(key, d.DestinationId) > Weight(key, least.DestinationId))
                least = d;
        return Chosen(context, least!, affinity: false);
    }

    private static DestinationState Chosen(HttpContext context, DestinationState d, bool affinity)
    {
        context.Items[typeof(ConversationAffinityPolicy)] = (d.DestinationId, affinity);
        return d;
    }

    /// <summary>A stable 64-bit weight of (key, replica): FNV-1a over both, then a SplitMix64 finaliser. The same in every gateway process.</summary>
    internal static ulong Weight(string key, string destination)
    {
        ulong h = 14695981039346656037UL;
        foreach (byte b in Encoding.UTF8.GetBytes(key)) h = (h ^ b) * 1099511628211UL;
        h = (h ^ 0xFF) * 1099511628211UL;
        foreach (byte b in Encoding.UTF8.GetBytes(destination)) h = (h ^ b) * 1099511628211UL;
        h ^= h >> 30; h *= 0xBF58476D1CE4E5B9UL;
        h ^= h >> 27; h *= 0x94D049BB133111EBUL;
        return h ^ (h >> 31);
    }
}
