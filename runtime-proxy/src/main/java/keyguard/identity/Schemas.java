package keyguard.identity;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * What the SCIM endpoint says about itself (RFC 7643 sections 5–7): PATCH and filtering
 * supported, bulk, sorting, ETags and password changes not; bearer tokens; the User and
 * Group resource types, and the attributes of the core schemas Keyguard reads.
 */
final class Schemas {
    private static final ObjectMapper JSON = new ObjectMapper();

    private Schemas() {}

    static ObjectNode serviceProviderConfig() {
        ObjectNode c = JSON.createObjectNode();
        c.putArray("schemas").add("urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig");
        c.put("documentationUri", "https://github.com/keyguard/keyguard/blob/main/docs/identity.md");
        c.putObject("patch").put("supported", true);
        c.putObject("bulk").put("supported", false).put("maxOperations", 0).put("maxPayloadSize", 0);
        c.putObject("filter").put("supported", true).put("maxResults", ScimApi.MAX_PAGE);
        c.putObject("changePassword").put("supported", false);
        c.putObject("sort").put("supported", false);
        c.putObject("etag").put("supported", false);
        c.putArray("authenticationSchemes").addObject().put("type", "oauthbearertoken").put("name", "Bearer token")
                .put("description", "the SCIM token: KEYGUARD_SCIM_TOKEN or data/scim.token").put("primary", true);
        c.putObject("meta").put("resourceType", "ServiceProviderConfig").put("location", "/scim/v2/ServiceProviderConfig");
        return c;
    }

    static ObjectNode resourceTypes() {
        ObjectNode list = list();
        ArrayNode r = list.withArray("Resources");
        r.add(resourceType("User", "/Users", ScimApi.USER_SCHEMA));
        r.add(resourceType("Group", "/Groups", ScimApi.GROUP_SCHEMA));
        list.put("totalResults", 2).put("itemsPerPage", 2).put("startIndex", 1);
        return list;
    }

    static ObjectNode schemas() {
        ObjectNode list = list();
        ArrayNode r = list.withArray("Resources");
        ObjectNode user = schema(ScimApi.USER_SCHEMA, "User", "User Account");
        ArrayNode ua = user.putArray("attributes");
        ua.add(attribute("userName", "string", true, "server"));
        ua.add(attribute("displayName", "string", false, "none"));
        ua.add(attribute("externalId", "string", false, "none"));
        ua.add(attribute("active", "boolean", false, "none"));
        ObjectNode emails = attribute("emails", "complex", false, "none").put("multiValued", true);
        emails.putArray("subAttributes").add(attribute("value", "string", false, "none")).add(attribute("primary", "boolean", false, "none"));
        ua.add(emails);
        ObjectNode name = attribute("name", "complex", false, "none");
        name.putArray("subAttributes").add(attribute("givenName", "string", false, "none")).add(attribute("familyName", "string", false, "none"));
        ua.add(name);
        r.add(user);
        ObjectNode group = schema(ScimApi.GROUP_SCHEMA, "Group", "Group");
        ArrayNode ga = group.putArray("attributes");
        ga.add(attribute("displayName", "string", true, "server"));
        ObjectNode members = attribute("members", "complex", false, "none").put("multiValued", true);
        members.putArray("subAttributes").add(attribute("value", "string", false, "none")).add(attribute("display", "string", false, "none"));
        ga.add(members);
        r.add(group);
        list.put("totalResults", 2).put("itemsPerPage", 2).put("startIndex", 1);
        return list;
    }

    private static ObjectNode list() {
        ObjectNode list = JSON.createObjectNode();
        list.putArray("schemas").add(ScimApi.LIST_SCHEMA);
        list.putArray("Resources");
        return list;
    }

    private static ObjectNode resourceType(String name, String endpoint, String schema) {
        ObjectNode t = JSON.createObjectNode();
        t.putArray("schemas").add("urn:ietf:params:scim:schemas:core:2.0:ResourceType");
        t.put("id", name).put("name", name).put("endpoint", endpoint).put("schema", schema);
        t.putObject("meta").put("resourceType", "ResourceType").put("location", "/scim/v2/ResourceTypes/" + name);
        return t;
    }

    private static ObjectNode schema(String id, String name, String description) {
        ObjectNode s = JSON.createObjectNode();
        s.putArray("schemas").add("urn:ietf:params:scim:schemas:core:2.0:Schema");
        s.put("id", id).put("name", name).put("description", description);
        s.putObject("meta").put("resourceType", "Schema").put("location", "/scim/v2/Schemas/" + id);
        return s;
    }

    private static ObjectNode attribute(String name, String type, boolean required, String uniqueness) {
        return JSON.createObjectNode().put("name", name).put("type", type).put("multiValued", false).put("required", required)
                .put("caseExact", false).put("mutability", "readWrite").put("returned", "default").put("uniqueness", uniqueness);
    }
}
